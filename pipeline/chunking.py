"""Token-aware chunking: no chunk is ever silently truncated by the model.

``chunk_text`` splits text into pieces whose token count (as the embedding model counts
it, ``[CLS]``/``[SEP]`` included) is at most ``max_tokens``, preferring paragraph, then
sentence, then word boundaries, with ``overlap_tokens`` of the previous chunk's tail
repeated at the start of the next one for context. A single word longer than the limit
is split by characters (rare: URLs, base64) so the contract still holds.

Counting is linear: each sentence is counted once and a candidate chunk's size is the sum
of its sentences' inner tokens plus the specials (``count("")``), which is exact for
tokenizers that split on whitespace first (BERT's WordPiece, the model's). Every chunk is
then counted for real; if one is over the limit (a tokenizer that merges across spaces),
the text is chunked again counting every candidate (quadratic, always exact).
"""

from __future__ import annotations

import re
from collections.abc import Callable

TokenCounter = Callable[[str], int]

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def _pieces(text: str) -> list[str]:
    out: list[str] = []
    for para in _PARAGRAPH.split(text):
        para = " ".join(para.split())
        if para:
            out.extend(s for s in _SENTENCE.split(para) if s)
    return out


def _split_long_by_sums(piece: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """``_split_long`` sizing a join of words by the sum of their inner sizes."""
    specials = count("")
    parts: list[str] = []
    current: list[str] = []
    total = 0
    for word in piece.split(" "):
        size = count(word) - specials
        if specials + size > max_tokens:
            if current:
                parts.append(" ".join(current))
                current, total = [], 0
            parts.extend(_split_long(word, max_tokens, count))
            continue
        if current and specials + total + size > max_tokens:
            parts.append(" ".join(current))
            current, total = [], 0
        current.append(word)
        total += size
    if current:
        parts.append(" ".join(current))
    return parts


def _split_long(piece: str, max_tokens: int, count: TokenCounter) -> list[str]:
    words = piece.split(" ")
    parts: list[str] = []
    current: list[str] = []
    for word in words:
        if count(word) > max_tokens:
            if current:
                parts.append(" ".join(current))
                current = []
            step = max(1, len(word) // 2)
            while word:
                size = min(len(word), step)
                while size > 1 and count(word[:size]) > max_tokens:
                    size //= 2
                parts.append(word[:size])
                word = word[size:]
            continue
        if current and count(" ".join([*current, word])) > max_tokens:
            parts.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        parts.append(" ".join(current))
    return parts


def chunk_text(
    text: str, count: TokenCounter, *, max_tokens: int = 256, overlap_tokens: int = 32
) -> list[str]:
    """Chunks of ``text``, each with ``count(chunk) <= max_tokens``."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 2))
    units: list[str] = []
    sizes: list[int] = []
    for piece in _pieces(text):
        n = count(piece)
        if n <= max_tokens:
            units.append(piece)
            sizes.append(n)
        else:
            parts = _split_long_by_sums(piece, max_tokens, count)
            part_sizes = [count(part) for part in parts]
            if max(part_sizes) > max_tokens:  # not additive: count every candidate
                parts = _split_long(piece, max_tokens, count)
                part_sizes = [count(part) for part in parts]
            units.extend(parts)
            sizes.extend(part_sizes)
    chunks = _pack_by_sums(units, sizes, count(""), max_tokens, overlap_tokens)
    if all(count(chunk) <= max_tokens for chunk in chunks):
        return chunks
    return _pack_counting(units, count, max_tokens, overlap_tokens)


def _pack_by_sums(
    units: list[str], sizes: list[int], specials: int, max_tokens: int, overlap_tokens: int
) -> list[str]:
    """Pack units, a join's size being ``specials`` + the sum of the units' inner sizes."""
    inner = [size - specials for size in sizes]
    chunks: list[str] = []
    current: list[int] = []  # indexes into units
    total = 0
    for i, size in enumerate(inner):
        if current and specials + total + size > max_tokens:
            chunks.append(" ".join(units[j] for j in current))
            tail: list[int] = []
            kept = 0
            if overlap_tokens > 0:
                for j in reversed(current):
                    if specials + kept + inner[j] > overlap_tokens:
                        break
                    tail.insert(0, j)
                    kept += inner[j]
            current, total = (tail, kept) if specials + kept + size <= max_tokens else ([], 0)
        current.append(i)
        total += size
    if current:
        chunks.append(" ".join(units[j] for j in current))
    return chunks


def _pack_counting(
    units: list[str], count: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[str]:
    """Pack units counting every candidate join (for tokenizers that are not additive)."""
    chunks: list[str] = []
    current: list[str] = []
    for unit in units:
        candidate = " ".join([*current, unit])
        if current and count(candidate) > max_tokens:
            chunks.append(" ".join(current))
            tail = _overlap(current, overlap_tokens, count)
            current = tail if count(" ".join([*tail, unit])) <= max_tokens else []
        current.append(unit)
    if current:
        chunks.append(" ".join(current))
    return chunks


def _overlap(units: list[str], budget: int, count: TokenCounter) -> list[str]:
    if budget <= 0:
        return []
    tail: list[str] = []
    for unit in reversed(units):
        if count(" ".join([unit, *tail])) > budget:
            break
        tail.insert(0, unit)
    return tail
