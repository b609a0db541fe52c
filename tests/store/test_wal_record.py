"""Golden bytes and decoding rules of one transaction-log record (store.wal.record)."""

from __future__ import annotations

import pytest

from store.wal import record, segments
from store.wal.base import LogRecord
from store.wal.record import BadRecord


def reference_crc32c(data: bytes) -> int:
    """Bit-by-bit CRC32C (Castagnoli, reflected polynomial 0x82F63B78), for checking."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


# seq 7, epoch 2, payload b"hi", laid out by hand from the table in record.py.
GOLDEN = bytes.fromhex(
    "a1"  # magic 0xA1 (record, format version 1)
    "02000000"  # payload length 2, little-endian
    "9ec0d04c"  # CRC32C 0x4CD0C09E over everything but these 4 bytes, little-endian
    "0200000000000000"  # epoch 2
    "0700000000000000"  # seq 7
    "6869"  # b"hi"
)


def test_reference_crc_matches_the_standard_check_value() -> None:
    assert reference_crc32c(b"123456789") == 0xE3069283


def test_golden_crc_covers_every_byte_but_the_crc_field() -> None:
    covered = GOLDEN[:5] + GOLDEN[9:]
    assert reference_crc32c(covered) == 0x4CD0C09E


def test_encode_matches_golden_bytes() -> None:
    assert record.encode(7, 2, b"hi") == GOLDEN
    assert record.HEADER_BYTES == 25


def test_empty_payload_golden() -> None:
    data = record.encode(1, 0, b"")
    assert data[:5] == b"\xa1\x00\x00\x00\x00"
    assert data[9:] == (0).to_bytes(8, "little") + (1).to_bytes(8, "little")
    assert int.from_bytes(data[5:9], "little") == reference_crc32c(data[:5] + data[9:])


def test_decode_golden() -> None:
    assert record.decode(GOLDEN) == LogRecord(seq=7, epoch=2, payload=b"hi")


@pytest.mark.parametrize("payload", [b"", b"x", bytes(range(256)) * 7, b"\xa1" * 100])
def test_round_trip(payload: bytes) -> None:
    data = record.encode(2**63 + 5, 2**64 - 1, payload)
    assert record.decode(data) == LogRecord(2**63 + 5, 2**64 - 1, payload)
    buf = b"junk" + data + data
    first = record.decode_at(buf, 4)
    assert first == (LogRecord(2**63 + 5, 2**64 - 1, payload), 4 + len(data))


def test_every_single_byte_flip_is_detected() -> None:
    for i in range(len(GOLDEN)):
        damaged = bytearray(GOLDEN)
        damaged[i] ^= 0x40
        result = record.decode_at(bytes(damaged), 0)
        assert isinstance(result, BadRecord), f"flip at byte {i} went unnoticed"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (GOLDEN[:24], record.SHORT_HEADER),
        (b"", record.SHORT_HEADER),
        (b"\x00" * 30, record.BAD_MAGIC),
        (GOLDEN[:-1], record.SHORT_PAYLOAD),
        (GOLDEN[:-1] + b"x", record.BAD_CRC),
    ],
)
def test_bad_record_reasons(data: bytes, reason: str) -> None:
    assert record.decode_at(data, 0) == BadRecord(0, reason)


def test_decode_rejects_trailing_bytes_and_damage() -> None:
    with pytest.raises(ValueError, match="bytes after"):
        record.decode(GOLDEN + b"\x00")
    with pytest.raises(ValueError, match="crc"):
        record.decode(GOLDEN[:-1] + b"x")


def test_encode_rejects_out_of_range_fields() -> None:
    with pytest.raises(ValueError):
        record.encode(2**64, 0, b"")
    with pytest.raises(ValueError):
        record.encode(1, -1, b"")


def test_find_intact_after_skips_garbage_and_zeros() -> None:
    rec = record.encode(10, 0, b"payload")
    buf = b"\xa1garbage\xa1" + bytes(100) + rec
    assert record.find_intact_after(buf, 0, min_seq=10, max_seq=20) == len(buf) - len(rec)
    assert record.find_intact_after(buf, 0, min_seq=11, max_seq=20) is None
    assert record.find_intact_after(bytes(4096), 0, min_seq=1, max_seq=10**6) is None


def test_segment_names_carry_the_first_seq() -> None:
    assert segments.segment_name(1) == "00000000000000000001.log"
    assert segments.parse_segment_name("00000000000000005214.log") == 5214
    assert segments.parse_segment_name("LOCK") is None
    assert segments.parse_segment_name("1.log") is None
