"""Publishing files so that a crash leaves the old version or the new one, never a torn one.

Every file the product publishes (snapshots, the ACL file, saved index files, the Kafka
log's checkpoint, the stack's state files) goes through :func:`atomic_write`:

1. ``write`` fills a temporary file in the same directory (unique name,
   ``<name>.tmp.<random>`` unless the caller names a ``tmp_prefix``/``tmp_suffix`` that its
   recovery code globs for, so two writers never share one);
2. the temporary file is flushed and fsynced: its bytes are on disk;
3. ``os.replace`` renames it over ``path``: readers see the old file or the new one;
4. the directory is fsynced: the rename itself survives a power loss.

If any step fails the temporary file is removed and the exception propagates; ``path``
still holds its previous content (or does not exist, if it never did). The directory
fsync in step 4 is the one step after which the new file is already visible: a failure
there is raised, and the caller must not assume the publication is durable.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import BinaryIO

__all__ = ["atomic_write", "atomic_write_bytes", "fsync_dir"]


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make file creations, deletions and renames in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], None],
    *,
    tmp_prefix: str | None = None,
    tmp_suffix: str = "",
    buffering: int = -1,
) -> None:
    """Publish ``path`` whole or not at all; ``write`` fills the file (see the module doc).

    ``write`` receives a binary file object positioned at 0; it must not close it. It may
    stream (the file is written as ``write`` goes, ``buffering`` bytes at a time as in
    :func:`open`). The temporary file is ``<tmp_prefix><random><tmp_suffix>`` in the
    directory of ``path`` (``tmp_prefix`` defaults to ``<name>.tmp.``), created with mode
    0600: recovery code that removes stale temporary files globs for that pattern.
    """
    target = os.path.abspath(os.fspath(path))
    directory = os.path.dirname(target)
    if tmp_prefix is None:
        tmp_prefix = os.path.basename(target) + ".tmp."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=tmp_prefix, suffix=tmp_suffix)
    try:
        with os.fdopen(fd, "wb", buffering=buffering) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(directory)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """:func:`atomic_write` of a bytes value (UTF-8 encode text before calling)."""

    def write(f: BinaryIO) -> None:
        f.write(data)

    atomic_write(path, write)
