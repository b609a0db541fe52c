"""RDB encodings for DUMP/RESTORE payloads (:mod:`store.rdb.payload`)."""

from .payload import RDB_VERSION, PayloadError, Restored, dump_value, load_value, verify

__all__ = ["RDB_VERSION", "PayloadError", "Restored", "dump_value", "load_value", "verify"]
