"""The Kafka-backed transaction log (``--log kafka://HOST:PORT/TOPIC``).

The front door of the package; the pieces live in one module each:

- :mod:`store.wal.kafka.log`: :class:`KafkaTransactionLog`, the
  :class:`~store.wal.base.TransactionLog` over one single-partition topic (its docstring
  states the writing, fencing, promotion and startup rules);
- :mod:`store.wal.kafka.reading`: the message format, the reading rules every reader
  applies in topic order (:func:`interpret`, :class:`ReaderState`, :class:`Verdict`) and
  the checkpoint file;
- :mod:`store.wal.kafka.roles`: what a node may acknowledge as follower or writer
  (:class:`KafkaLogState`);
- :mod:`store.wal.kafka.replay`: remembered reader states and startup replay;
- :mod:`store.wal.kafka.client`: :func:`parse_kafka_url`, the log's event-loop thread and
  the aiokafka clients (aiokafka is imported only when a client is made).
"""

from __future__ import annotations

from .client import parse_kafka_url
from .log import KafkaTransactionLog
from .reading import CHECKPOINT_FILE, ReaderState, Verdict, interpret
from .roles import KafkaLogState

__all__ = [
    "CHECKPOINT_FILE",
    "KafkaLogState",
    "KafkaTransactionLog",
    "ReaderState",
    "Verdict",
    "interpret",
    "parse_kafka_url",
]
