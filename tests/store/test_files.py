"""store.files.atomic_write: a failure at any step leaves the old file or the new one,
never a torn file, and never a stray temporary file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import pytest

from store import files
from store.files import atomic_write, atomic_write_bytes

OLD = b"old content\n" * 100
NEW = b"new content, longer than the old one\n" * 200


class Injected(OSError):
    pass


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != "f.bin")


def _write_new_in_two_parts(f: BinaryIO) -> None:
    f.write(NEW[:100])
    f.write(NEW[100:])


@pytest.mark.parametrize("had_old", [True, False], ids=["replacing", "creating"])
@pytest.mark.parametrize("step", ["write", "fsync_file", "replace"])
def test_failure_before_publication_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, had_old: bool
) -> None:
    path = tmp_path / "f.bin"
    if had_old:
        path.write_bytes(OLD)

    def failing_write(f: BinaryIO) -> None:
        f.write(NEW[:100])
        raise Injected("disk full while writing")

    writer = _write_new_in_two_parts
    if step == "write":
        writer = failing_write
    elif step == "fsync_file":
        monkeypatch.setattr(files.os, "fsync", _raise)
    else:
        monkeypatch.setattr(files.os, "replace", _raise)

    with pytest.raises(Injected):
        atomic_write(path, writer)

    if had_old:
        assert path.read_bytes() == OLD
    else:
        assert not path.exists()
    assert _leftovers(tmp_path) == []


def test_failure_of_the_directory_fsync_is_raised_after_the_new_file_is_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(OLD)
    monkeypatch.setattr(files, "fsync_dir", _raise)
    with pytest.raises(Injected):
        atomic_write(path, _write_new_in_two_parts)
    assert path.read_bytes() == NEW  # renamed already: whole, but not reported durable
    assert _leftovers(tmp_path) == []


def test_success_publishes_and_fsyncs_file_and_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(OLD)
    calls: list[str] = []
    real_fsync, real_replace, real_fsync_dir = os.fsync, os.replace, files.fsync_dir

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    def fsync_dir(d: str) -> None:
        calls.append("fsync_dir")
        real_fsync_dir(d)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    monkeypatch.setattr(files, "fsync_dir", fsync_dir)
    atomic_write(path, _write_new_in_two_parts)
    assert path.read_bytes() == NEW
    assert calls[:3] == ["fsync", "replace", "fsync_dir"]
    assert _leftovers(tmp_path) == []


def test_bytes_helper_and_path_types(tmp_path: Path) -> None:
    atomic_write_bytes(str(tmp_path / "f.bin"), NEW)
    assert (tmp_path / "f.bin").read_bytes() == NEW
    atomic_write_bytes(tmp_path / "f.bin", b"")
    assert (tmp_path / "f.bin").read_bytes() == b""
    assert _leftovers(tmp_path) == []


def test_tmp_file_is_named_as_asked_and_private(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []

    def write(f: BinaryIO) -> None:
        names = _leftovers(tmp_path)
        seen.extend((n, (tmp_path / n).stat().st_mode & 0o777) for n in names)
        f.write(NEW)

    atomic_write(tmp_path / "f.bin", write, tmp_prefix="snap-", tmp_suffix=".tmp", buffering=4096)
    assert len(seen) == 1
    name, mode = seen[0]
    assert name.startswith("snap-") and name.endswith(".tmp")
    assert mode == 0o600
    assert (tmp_path / "f.bin").read_bytes() == NEW
    assert _leftovers(tmp_path) == []


def _raise(*_args: object, **_kwargs: object) -> None:
    raise Injected("injected failure")
