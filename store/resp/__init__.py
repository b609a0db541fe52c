"""RESP2/RESP3 codec, sans I/O: request bytes in, commands out; reply values in, bytes out.

* :class:`RequestParser` turns what a client sends (multibulk or inline requests, any
  chunking, pipelines of thousands) into ``list[bytes]`` commands, raising
  :class:`ProtocolError` with Redis's exact texts on malformed input.
* :func:`encode_reply` / :class:`ReplyWriter` turn Python reply values into RESP2 or RESP3;
  the value-to-type table is in :mod:`store.replies` (re-exported here).
* :func:`encode_command` builds a multibulk request (replication stream, tests).

No sockets here: the server owns the I/O and calls these per connection.
"""

from store.numbers import format_double
from store.replies import (
    NULL_ARRAY,
    BigNumber,
    ErrorReply,
    NullArray,
    Push,
    SimpleString,
    Verbatim,
)
from store.resp.parser import ProtocolError, RequestParser, split_args
from store.resp.writer import ReplyWriter, encode_command, encode_reply

__all__ = [
    "NULL_ARRAY",
    "BigNumber",
    "ErrorReply",
    "NullArray",
    "ProtocolError",
    "Push",
    "ReplyWriter",
    "RequestParser",
    "SimpleString",
    "Verbatim",
    "encode_command",
    "encode_reply",
    "format_double",
    "split_args",
]
