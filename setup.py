"""Build of memvec's C extension modules; everything else is in pyproject.toml.

Each extension is ``optional``: where it does not build (no C compiler, no Python headers)
the install still succeeds and memvec uses the module's pure-Python twin, which gives the
same results more slowly. The suite fails when a module did not build (each module's test
file checks it first), so the suite and CI always run the compiled path, and the same
tests hold the two twins to identical results.
"""

from setuptools import Extension, setup


def _module(name: str, *flags: str) -> Extension:
    """The optional extension ``name`` built from ``name``'s path + ``.c``, at -O3."""
    return Extension(
        name,
        [name.replace(".", "/") + ".c"],
        extra_compile_args=["-O3", *flags],
        optional=True,
    )


setup(
    ext_modules=[
        # -O3 vectorises the loops over a kernel's lanes (each lane is its own sum, so no
        # rounding changes); -ffp-contract=off: the compiler fuses no multiply-add on its
        # own, VecSim's rounding steps are written out (store/index/vecsim_c.c)
        _module("store.index.vecsim_c", "-ffp-contract=off"),
        # -pthread: a large scan splits its rows over threads (store/index/flat_scan_c.c)
        _module("store.index.flat_scan_c", "-ffp-contract=off", "-pthread"),
        _module("store.index.doc_rows_c"),
        _module("store.index.hash_blobs_c"),
        _module("store.resp.reply_c"),
        _module("store.resp.request_c"),
        _module("store.index.token_counts_c"),
    ],
)
