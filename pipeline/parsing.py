"""Turn an object's bytes into documents: type detection, decoding, text extraction.

``parse_object(key, body, content_type, content_encoding, mapping)`` returns a list of
:class:`ParsedDoc` (one per object for txt/md/html/csv/json; one per line for jsonl/ndjson
and per element for a JSON array, each with its own id suffix). Every failure raises
:class:`ParseError` with the object key and a reason that says what to fix; the runner
sends such objects to the dead-letter destination instead of retrying them.

Supported: ``.txt``, ``.md``, ``.html``/``.htm`` (tags, scripts and styles stripped),
``.csv`` (a ``text`` column, else all columns joined), ``.json`` (object or array),
``.jsonl``/``.ndjson``; any of them gzip-compressed (``.gz`` suffix, gzip magic bytes or
``Content-Encoding: gzip``). Text must be UTF-8 (a BOM is accepted).

Record ids: a JSON record's suffix is ``/<id field>``; an array element or JSON line
without one gets ``/<element index>`` or ``/<line number>``, so records never share chunk
ids. Two opt-in :class:`JsonMapping` switches serve arbitrary user files (``memvec demo
--from``), where no ``text`` field or ``text`` column can be assumed:

* ``strings_fallback``: a JSON record with no string ``text_field`` becomes its string
  values, one ``key.path: value`` line each (numbers and booleans too, as context), instead
  of being refused. A record with no such value at all is still refused.
* ``csv_rows``: a CSV file becomes one document per row (suffix ``/row-<n>``, n from 1),
  each line ``header: value``, so the header names stay beside their values.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from .errors import ParseError

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class JsonMapping:
    """Which JSON fields hold a record's id, text and metadata (for json/jsonl/ndjson)."""

    id_field: str = "id"
    text_field: str = "text"
    metadata_fields: tuple[str, ...] = ()
    strings_fallback: bool = False  # no text field: the record's values (module docstring)
    csv_rows: bool = False  # CSV: one document per row, "header: value" lines


@dataclass(frozen=True)
class ParsedDoc:
    suffix: str  # "" for a whole object, else "/<record id>"
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def detect_type(key: str, content_type: str | None = None) -> str:
    name = key.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, kind in (
        (".jsonl", "jsonl"), (".ndjson", "jsonl"), (".json", "json"), (".csv", "csv"),
        (".html", "html"), (".htm", "html"), (".md", "md"), (".markdown", "md"),
        (".txt", "txt"), (".text", "txt"),
    ):  # fmt: skip
        if name.endswith(ext):
            return kind
    ct = (content_type or "").split(";")[0].strip().lower()
    by_type = {
        "text/plain": "txt", "text/markdown": "md", "text/html": "html", "text/csv": "csv",
        "application/json": "json", "application/x-ndjson": "jsonl",
        "application/jsonl": "jsonl",
    }  # fmt: skip
    if ct in by_type:
        return by_type[ct]
    raise ParseError(
        key,
        f"unsupported object type (content type {content_type!r}); name it .txt, .md, "
        ".html, .csv, .json, .jsonl or .ndjson (optionally .gz)",
    )


def decompress(key: str, body: bytes, content_encoding: str | None = None) -> bytes:
    if not (body[:2] == GZIP_MAGIC or (content_encoding or "").lower() == "gzip"):
        return body
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(body, MAX_DECOMPRESSED_BYTES + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise ParseError(key, f"corrupt gzip data ({exc}); re-upload the object") from exc
    if len(out) > MAX_DECOMPRESSED_BYTES or d.unconsumed_tail:
        raise ParseError(key, f"decompresses to more than {MAX_DECOMPRESSED_BYTES} bytes")
    return out


def decode(key: str, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ParseError(key, "binary content (NUL bytes); only UTF-8 text objects are ingested")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(
            key, f"not valid UTF-8 at byte {exc.start}; convert the object to UTF-8"
        ) from exc


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "head"})
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "pre", "blockquote", "title"})
    _BLOCK |= {"h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def _leaves(value: Any, path: str) -> Iterator[str]:
    """``path: value`` for every scalar under ``value`` (null skipped), depth first."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _leaves(item, f"{path}.{name}" if path else str(name))
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    elif value is not None and str(value).strip():
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        yield f"{path}: {text}" if path else text


def _record(
    key: str, obj: Any, mapping: JsonMapping, where: str, position: str | None = None
) -> ParsedDoc:
    """One JSON record; ``position``: its element index / line number inside a file of
    many records (the suffix when it has no id), None for a file's single object."""
    if mapping.strings_fallback and not isinstance(obj, dict):
        obj = {"value": obj}
    if not isinstance(obj, dict):
        raise ParseError(key, f"{where}: expected a JSON object, got {type(obj).__name__}")
    text = obj.get(mapping.text_field)
    if not isinstance(text, str) and mapping.strings_fallback:
        text = "\n".join(_leaves(obj, "")) or None
        if text is None:
            raise ParseError(key, f"{where}: no text, number or boolean value in the record")
    if not isinstance(text, str):
        raise ParseError(
            key, f"{where}: field {mapping.text_field!r} is missing or not a string "
            "(set the JSON mapping's text_field)"
        )  # fmt: skip
    rid = obj.get(mapping.id_field)
    suffix = f"/{rid}" if rid is not None else f"/{position}" if position is not None else ""
    meta = {f: obj[f] for f in mapping.metadata_fields if f in obj}
    return ParsedDoc(suffix=suffix, text=text, metadata=meta)


def _csv_rows(key: str, rows: list[dict[str | Any, Any]]) -> list[ParsedDoc]:
    docs = []
    for n, row in enumerate(rows, 1):
        # DictReader puts a row's surplus cells under None; they keep no header name
        lines = [
            f"{name}: {value}" if name is not None else " ".join(value)
            for name, value in row.items()
            if value and (name is None or str(value).strip())
        ]
        if lines:
            docs.append(ParsedDoc(f"/row-{n}", "\n".join(lines)))
    if not docs:
        raise ParseError(key, "every CSV row is empty")
    return docs


def parse_object(
    key: str,
    body: bytes,
    *,
    content_type: str | None = None,
    content_encoding: str | None = None,
    mapping: JsonMapping | None = None,
) -> list[ParsedDoc]:
    """Documents in an object. Raises :class:`ParseError` (never anything else)."""
    mapping = mapping or JsonMapping()
    kind = detect_type(key, content_type)
    text = decode(key, decompress(key, body, content_encoding))
    if not text.strip():
        raise ParseError(key, "the object is empty; nothing to ingest")
    if kind in ("txt", "md"):
        return [ParsedDoc("", text)]
    if kind == "html":
        return [ParsedDoc("", html_to_text(text))]
    if kind == "csv":
        try:
            rows = list(csv.DictReader(io.StringIO(text)))
        except csv.Error as exc:
            raise ParseError(key, f"malformed CSV: {exc}") from exc
        if not rows:
            raise ParseError(key, "CSV has a header but no rows")
        if mapping.csv_rows:
            return _csv_rows(key, rows)
        col = "text" if "text" in rows[0] else None
        lines = [r[col] if col else " ".join(str(v) for v in r.values()) for r in rows]
        return [ParsedDoc("", "\n\n".join(lines))]
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(
                key, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from exc
        if not isinstance(data, list):
            return [_record(key, data, mapping, "the object")]
        return [_record(key, item, mapping, f"element {i}", str(i)) for i, item in enumerate(data)]
    docs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ParseError(key, f"malformed JSON on line {lineno}: {exc.msg}") from exc
        docs.append(_record(key, obj, mapping, f"line {lineno}", str(lineno)))
    if not docs:
        raise ParseError(key, "no JSON records in the object")
    return docs
