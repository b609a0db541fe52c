"""memvec's store: a durable, Redis-compatible, in-memory document and vector store.

The front door for embedded use and for the packages built on the store::

    from store import Engine, EngineConfig

    with Engine(EngineConfig(data_dir=Path("./data"))) as db:
        db.execute("FT.CREATE", "idx", "ON", "HASH", "PREFIX", 1, "doc:", "SCHEMA",
                   "vec", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", 384,
                   "DISTANCE_METRIC", "COSINE")
        db.execute("HSET", "doc:1", "vec", vector.tobytes(), "text", "hello")
        db.execute("FT.SEARCH", "idx", "*=>[KNN 5 @vec $B]", "PARAMS", 2, "B", q, "DIALECT", 2)

Everything not listed in ``__all__`` is an implementation detail and may move.

The names load on first use (PEP 562): ``import store.errors`` or ``store.files`` (what
the pipeline's workers, API and Lambda handler need) does not import the engine, its
commands and its indexes (~0.9 s of every such process's start, docs/decisions/0038).
``blas_env`` still loads first, before anything imports numpy.
"""

from typing import TYPE_CHECKING

from . import blas_env  # noqa: F401  (first: it sets what numpy's OpenBLAS reads at load)
from .lazy_names import lazy_names

if TYPE_CHECKING:
    from .config import EngineConfig, FsyncPolicy
    from .engine import Engine, EngineState, Submitted
    from .errors import (
        ArityError,
        CommandError,
        DurabilityError,
        ExecAbortError,
        IndexError_,
        LoadingError,
        LogCorruptError,
        NoAuthError,
        NoPermError,
        OutOfMemoryError,
        QuerySyntaxError,
        ReadOnlyError,
        SnapshotCorruptError,
        SnapshotError,
        SnapshotStoreError,
        StoreError,
        SyntaxErr,
        UnknownCommandError,
        WrongTypeError,
    )
    from .files import atomic_write
    from .replies import SimpleString
    from .wal.base import RecoveryOutcome, RecoveryReport
    from .wal.position import LogPosition

_HOME = {
    "EngineConfig": "config",
    "FsyncPolicy": "config",
    "Engine": "engine",
    "EngineState": "engine",
    "Submitted": "engine",
    "ArityError": "errors",
    "CommandError": "errors",
    "DurabilityError": "errors",
    "ExecAbortError": "errors",
    "IndexError_": "errors",
    "LoadingError": "errors",
    "LogCorruptError": "errors",
    "NoAuthError": "errors",
    "NoPermError": "errors",
    "OutOfMemoryError": "errors",
    "QuerySyntaxError": "errors",
    "ReadOnlyError": "errors",
    "SnapshotCorruptError": "errors",
    "SnapshotError": "errors",
    "SnapshotStoreError": "errors",
    "StoreError": "errors",
    "SyntaxErr": "errors",
    "UnknownCommandError": "errors",
    "WrongTypeError": "errors",
    "atomic_write": "files",
    "SimpleString": "replies",
    "RecoveryOutcome": "wal.base",
    "RecoveryReport": "wal.base",
    "LogPosition": "wal.position",
}

__all__ = [
    "ArityError",
    "CommandError",
    "DurabilityError",
    "Engine",
    "EngineConfig",
    "EngineState",
    "ExecAbortError",
    "FsyncPolicy",
    "IndexError_",
    "LoadingError",
    "LogCorruptError",
    "LogPosition",
    "NoAuthError",
    "NoPermError",
    "OutOfMemoryError",
    "QuerySyntaxError",
    "ReadOnlyError",
    "RecoveryOutcome",
    "RecoveryReport",
    "SimpleString",
    "SnapshotCorruptError",
    "SnapshotError",
    "SnapshotStoreError",
    "StoreError",
    "Submitted",
    "SyntaxErr",
    "UnknownCommandError",
    "WrongTypeError",
    "atomic_write",
]


__getattr__ = lazy_names(__name__, _HOME, globals())
