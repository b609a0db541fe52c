"""RDB encoding of JSON documents: RedisJSON's module type ``ReJSON-RL``.

Layout (``rdbSaveObject`` for a module value, RedisJSON's ``json_rdb_save``)::

    7                       RDB_TYPE_MODULE_2
    0x81 + 8 bytes BE       module id: the type name in 9 x 6 bits, then the 10-bit
                            encoding version (3, RedisJSON 2.x)
    5, string               RDB_MODULE_OPCODE_STRING: the document as compact JSON text
                            (serde_json's, :func:`store.json.codec.dumps`)
    0                       RDB_MODULE_OPCODE_EOF

Byte-identical with the peer's DUMP. Only encoding version 3 is read (what RedisJSON 2.x
writes); older module versions' payloads are refused with ``Bad data format``.
"""

from __future__ import annotations

from ..datatypes.json_doc import JsonDoc
from ..json.codec import JsonParseError, dumps, loads
from .primitives import PayloadError, Reader, string_bytes

__all__ = ["TYPE_MODULE_2", "dump_json", "load_json"]

TYPE_MODULE_2 = 7
OPCODE_EOF, OPCODE_STRING = 0, 5
_CHARSET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
ENCVER = 3


def module_id(name: bytes, encver: int) -> int:
    """``moduleTypeEncodeId``: 9 name characters of 6 bits each, then the version."""
    out = 0
    for ch in name:
        out = (out << 6) | _CHARSET.index(ch)
    return (out << 10) | encver


JSON_MODULE_ID = module_id(b"ReJSON-RL", ENCVER)


def dump_json(value: JsonDoc) -> bytes:
    text = dumps(value.root).encode()
    return (
        bytes([TYPE_MODULE_2, 0x81])
        + JSON_MODULE_ID.to_bytes(8, "big")
        + bytes([OPCODE_STRING])
        + string_bytes(text)
        + bytes([OPCODE_EOF])
    )


def load_json(r: Reader) -> JsonDoc:
    if r.length() != (JSON_MODULE_ID, False):
        raise PayloadError("not a ReJSON-RL value of encoding version 3")
    if r.byte() != OPCODE_STRING:
        raise PayloadError("expected a string")
    try:
        root = loads(r.string().decode())
    except (UnicodeDecodeError, JsonParseError) as exc:
        raise PayloadError(str(exc)) from exc
    if r.byte() != OPCODE_EOF:
        raise PayloadError("expected the module EOF")
    return JsonDoc(root)
