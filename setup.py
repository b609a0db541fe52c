"""Build of memvec's C extension modules; everything else is in pyproject.toml.

Each extension is ``optional``: where it does not build (no C compiler, no Python headers)
the install still succeeds and memvec uses the module's pure-Python twin, which gives the
same results more slowly. The suite fails when a module did not build (each module's test
file checks it first), so the suite and CI always run the compiled path, and the same
tests hold the two twins to identical results.
"""

import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

from setuptools import Extension, setup

# hnswlib is header-only C++; its headers are in its sdist (its wheel holds only the
# compiled binding). store.index.hnsw_graph compiles them with a space of its own
# (docs/decisions/0042). The sdist is the one pip builds hnswlib from, pinned by digest.
HNSWLIB_SDIST = (
    "https://files.pythonhosted.org/packages/cf/7a/"
    "1a9b1405f2eb59515f06c3074750b03e0e96edf7fee0f6dd6df81d9c21d7/hnswlib-0.8.0.tar.gz"
)
HNSWLIB_SHA256 = "cb6d037eedebb34a7134e7dc78966441dfd04c9cf5ee93911be911ced951c44c"
HNSWLIB_HEADERS = Path(__file__).resolve().parent / "build" / "hnswlib-0.8.0"


def _module(name: str, *flags: str) -> Extension:
    """The optional extension ``name`` built from ``name``'s path + ``.c``, at -O3."""
    return Extension(
        name,
        [name.replace(".", "/") + ".c"],
        extra_compile_args=["-O3", *flags],
        optional=True,
    )


def _hnswlib_headers() -> str | None:
    """The directory holding ``hnswlib/hnswalg.h``: hnswlib 0.8.0's sdist, downloaded once
    into ``build/`` and checked against its digest; None (the module is skipped, memvec
    uses hnswlib's wheel) when it cannot be had."""
    target = HNSWLIB_HEADERS
    if (target / "hnswlib" / "hnswalg.h").exists():
        return str(target)
    try:
        with urllib.request.urlopen(HNSWLIB_SDIST, timeout=60) as response:
            sdist = response.read()
    except OSError as exc:
        print(f"memvec: hnswlib's sdist could not be downloaded ({exc}): hnsw_graph skipped")
        return None
    if hashlib.sha256(sdist).hexdigest() != HNSWLIB_SHA256:
        print("memvec: hnswlib's sdist does not match its digest: hnsw_graph skipped")
        return None
    (target / "hnswlib").mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(sdist), mode="r:gz") as archive:
        for member in archive.getmembers():
            parts = Path(member.name).parts
            if len(parts) == 3 and parts[1] == "hnswlib" and parts[2].endswith(".h"):
                source = archive.extractfile(member)
                assert source is not None
                (target / "hnswlib" / parts[2]).write_bytes(source.read())
    return str(target)


def _graph_module() -> list[Extension]:
    """``store.index.hnsw_graph`` (C++, pybind11), when hnswlib's headers are at hand."""
    headers = _hnswlib_headers()
    if headers is None:
        return []
    import pybind11

    return [
        Extension(
            "store.index.hnsw_graph",
            ["store/index/hnsw_graph.cpp"],
            include_dirs=[headers, pybind11.get_include()],
            language="c++",
            # -march=native as hnswlib's own setup.py builds it (its sdist is what pip
            # installs here): the distance loops vectorise (-fopenmp-simd: their reduction
            # pragma) and inline into the walk for this CPU (decision 0042)
            extra_compile_args=[
                "-O3",
                "-march=native",
                "-fopenmp-simd",
                "-std=c++17",
                "-pthread",
                "-fvisibility=hidden",
            ],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]


setup(
    ext_modules=[
        *_graph_module(),
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
