"""Build of memvec's C extension modules; everything else is in pyproject.toml.

Each extension is ``optional``: where it does not build (no C compiler, no Python headers)
the install still succeeds and memvec uses the module's pure-Python twin, which gives the
same results more slowly. The suite fails when a module did not build (each module's test
file checks it first), so the suite and CI always run the compiled path, and the same
tests hold the two twins to identical results.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "store.index.vecsim_c",
            ["store/index/vecsim_c.c"],
            # -O3 vectorises the loops over a kernel's lanes (each lane is its own sum, so
            # no rounding changes); -ffp-contract=off: the compiler fuses no multiply-add
            # on its own, VecSim's rounding steps are written out (store/index/vecsim_c.c)
            extra_compile_args=["-O3", "-ffp-contract=off"],
            optional=True,
        ),
        Extension(
            "store.index.doc_rows_c",
            ["store/index/doc_rows_c.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "store.index.hash_blobs_c",
            ["store/index/hash_blobs_c.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "store.resp.reply_c",
            ["store/resp/reply_c.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "store.resp.request_c",
            ["store/resp/request_c.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
        Extension(
            "store.index.token_counts_c",
            ["store/index/token_counts_c.c"],
            extra_compile_args=["-O3"],
            optional=True,
        ),
    ],
)
