"""``python -m store.server [options]``: the same as ``memvec server``."""

from __future__ import annotations

import argparse
import sys

from .cli import add_server_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m store.server")
    sub = parser.add_subparsers(dest="command")
    add_server_parser(sub)
    args = parser.parse_args(["server", *(sys.argv[1:] if argv is None else argv)])
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
