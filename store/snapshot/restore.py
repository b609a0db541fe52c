"""``memvec restore s3://bucket/prefix --dir DIR``: start a node from a remote snapshot.

Contract of :func:`restore`: the newest snapshot in the remote store that fully verifies
(a damaged one is skipped for the previous, with a warning) is copied into
``DIR/snapshots`` (other local snapshots are deleted), and ``DIR/log`` is restarted empty
at the snapshot's position (:meth:`store.wal.file_log.FileLog.reset`), so ``memvec server
--dir DIR`` recovers exactly that state. A directory whose log holds records is refused
unless ``force`` (restoring would discard them). Returns the snapshot restored; raises
:class:`store.errors.StoreError` if there is none.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

from store.errors import StoreError
from store.snapshot.base import SnapshotInfo, SnapshotStore
from store.snapshot.format import SnapshotCorruptError, SnapshotReader
from store.snapshot.local import LocalSnapshotStore
from store.wal.file_log import FileLog

log = logging.getLogger("memvec.restore")


def open_remote(url: str, endpoint_url: str | None = None) -> SnapshotStore:
    """The snapshot store named by ``url`` (``s3://...`` or a local directory)."""
    if url.startswith("s3://"):
        from .s3 import S3SnapshotStore

        return S3SnapshotStore(url, endpoint_url=endpoint_url)
    return LocalSnapshotStore(url, remove_stale_tmp=False)


def _fetch(remote: SnapshotStore, info: SnapshotInfo, path: Path) -> None:
    if isinstance(remote, LocalSnapshotStore):
        shutil.copyfile(remote.path_of(info), path)
    else:
        remote.download(info, path)  # type: ignore[attr-defined]


def restore(remote: SnapshotStore, data_dir: Path, *, force: bool = False) -> SnapshotInfo:
    data_dir = Path(data_dir)
    tmp_dir = data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    wal = FileLog(data_dir / "log")
    report = wal.open()
    try:
        if report.next_position.seq > report.first_position.seq and not force:
            raise StoreError(
                f"{data_dir} already holds log records {report.first_position} to "
                f"{report.next_position}; restoring would discard them. Use another --dir, "
                "or --force"
            )
        for info in remote.list():
            path = tmp_dir / f"restore-{info.name}.part"
            try:
                _fetch(remote, info, path)
                with SnapshotReader(path) as reader:
                    reader.verify()
                    position = reader.position
            except (SnapshotCorruptError, FileNotFoundError) as exc:
                log.warning(
                    "skipping snapshot %s, falling back to an older one: %s", info.name, exc
                )
                path.unlink(missing_ok=True)
                continue
            local = LocalSnapshotStore(data_dir / "snapshots")
            for old in local.list():
                local.delete(old)
            published = local.publish_file(path)
            wal.reset(position)
            log.info("restored %s (covers up to %s) into %s", info.name, position, data_dir)
            return published
    finally:
        wal.close()
    raise StoreError(f"no valid snapshot found in {remote!r}")


def add_restore_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``restore`` to the ``memvec`` command line."""
    p = subparsers.add_parser(
        "restore",
        help="start a node's data directory from the newest valid remote snapshot",
        description="Fill a data directory from the newest snapshot under an S3 prefix (or "
        "a local snapshot directory) that fully verifies, skipping damaged ones, so that "
        "'memvec server --dir DIR' starts with exactly that state. A directory whose log "
        "already holds writes is refused unless --force.",
    )
    p.add_argument("source", help="s3://bucket/prefix (or a local snapshot directory)")
    p.add_argument("--dir", dest="data_dir", default="data", help="data directory (default ./data)")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (moto, MinIO); AWS if omitted")
    p.add_argument("--force", action="store_true", help="discard the log already in --dir")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        info = restore(
            open_remote(args.source, args.endpoint_url), Path(args.data_dir), force=args.force
        )
    except StoreError as exc:
        print(f"memvec restore: {exc.message}", file=sys.stderr)
        return 1
    print(f"restored {info.name} into {args.data_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memvec")
    add_restore_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["restore", *(sys.argv[1:] if argv is None else argv)])
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
