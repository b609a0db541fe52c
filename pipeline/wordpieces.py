"""The bundled model's WordPiece tokenizer, read from its own `tokenizer.json` with the
`tokenizers` library (no transformers import: ~0.1 s to load against 1.5-3 s).

Contract:

- `WordPieces.load(path, max_length=None)` reads `path / "tokenizer.json"` (and, without
  `max_length`, the model's `max_seq_length` from `sentence_bert_config.json`). The ids are those of
  transformers' `BertTokenizer` for this model, specials (`[CLS]`, `[SEP]`) included
  (tests/pipeline/test_minilm.py compares them over accents, CJK, emoji, control
  characters and long texts).
- `count(text)`: word pieces before truncation (what a chunker compares with
  `max_length`). `encode_batch(texts)`: each text's ids truncated to `max_length` (the
  final `[SEP]` kept), unpadded. The file's own padding (to 128) is switched off; callers
  pad each batch to its longest text with `pad_id`.
- Its truncation and padding are set once, at load, and never changed (transformers'
  tokenizers set them on every call, which is what raised "Already borrowed" across
  threads); the embedders still call it under their lock.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from tokenizers import Tokenizer

__all__ = ["WordPieces"]


class WordPieces:
    """Counting and truncating views of one `tokenizer.json` (see module contract)."""

    def __init__(self, tokenizer: Tokenizer, max_length: int) -> None:
        """Takes `tokenizer` over (its settings change); a copy of it truncates."""
        self.max_length = int(max_length)
        padding = tokenizer.padding
        self.pad_id = int(padding["pad_id"]) if padding else 0
        self._truncator = Tokenizer.from_str(tokenizer.to_str())
        self._truncator.no_padding()
        self._truncator.enable_truncation(self.max_length)
        self._counter = tokenizer
        self._counter.no_truncation()
        self._counter.no_padding()

    @classmethod
    def load(cls, path: Path, max_length: int | None = None) -> WordPieces:
        """`path`'s tokenizer, truncating at `max_length` or, when None, at the model's
        `max_seq_length` (`sentence_bert_config.json`)."""
        if max_length is None:
            config = json.loads((path / "sentence_bert_config.json").read_text())
            max_length = int(config["max_seq_length"])
        return cls(Tokenizer.from_file(str(path / "tokenizer.json")), max_length)

    @property
    def vocab_size(self) -> int:
        return int(self._counter.get_vocab_size())

    def count(self, text: str) -> int:
        """Word pieces the model would see for `text` before truncation, specials included."""
        return len(self._counter.encode(text).ids)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, truncated to `max_length`, specials included, unpadded."""
        return [list(e.ids) for e in self._truncator.encode_batch(list(texts))]
