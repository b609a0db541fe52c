"""The handler reads ``retriable`` from our two error families instead of testing types:
a store that is down fails the record as retriable, a refused write fails it for good,
and a foreign error fails the whole batch (the runner retries and bisects)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pytest

from connectors.memory import MemoryObjectStore
from pipeline import handler
from pipeline.errors import PrimaryChanged, StoreRejected, StoreUnavailable
from pipeline.processor import Processor
from pipeline.stores import StoreClient


class FailingStore(StoreClient):
    def __init__(self, error: Exception) -> None:
        self.error = error

    def run(self, commands: Sequence[Any], *, atomic: bool = False) -> list[Any]:
        raise self.error


class NoEmbedder:
    dim = 4
    max_seq_length = 256

    def embed(self, texts: Sequence[str]) -> Any:
        return np.zeros((len(texts), 4), dtype=np.float32)

    def embed_one(self, text: str) -> Any:
        return np.zeros(4, dtype=np.float32)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2


@pytest.fixture
def use_store() -> Iterator[Any]:
    def install(error: Exception) -> None:
        handler.configure(Processor(FailingStore(error), MemoryObjectStore(), NoEmbedder()))

    yield install
    handler.configure(None)


DOC = json.dumps({"id": "doc-1", "text": "hello there"}).encode()


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (StoreUnavailable("store down"), True),
        (PrimaryChanged("primary moved during the commit"), True),
        (StoreRejected("ERR wrong number of arguments"), False),
    ],
)
def test_store_errors_fail_the_record_with_their_retriable(
    use_store: Any, error: Exception, retriable: bool
) -> None:
    use_store(error)
    result = handler.process_payload("rec-1", DOC)
    assert (result.ok, result.retriable, result.item_id) == (False, retriable, "rec-1")
    assert str(error) in result.reason


def test_a_foreign_error_fails_the_whole_batch(use_store: Any) -> None:
    use_store(ConnectionResetError("not one of ours"))
    with pytest.raises(ConnectionResetError):
        handler.process_payload("rec-1", DOC)
