"""The store's subcommands of the ``memvec`` command line: ``server`` and ``restore``.

The product command line (``pipeline.cli``) asks for them with one call,
:func:`add_store_parsers`; each subcommand's options, environment variables and runner stay
with the code they configure (:mod:`store.server.cli`, :mod:`store.snapshot.restore`).
"""

from __future__ import annotations

import argparse

__all__ = ["add_store_parsers"]


def add_store_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``server`` and ``restore``; each sets ``run`` to its runner.

    The modules are imported here, not at the top, so ``import store.cli`` stays cheap.
    ``server`` is left out when its dependencies cannot be imported (a slimmed install,
    such as the Lambda package), so the rest of the command line still works.
    """
    try:
        from .server.cli import add_server_parser
    except ImportError:
        pass
    else:
        add_server_parser(subparsers)
        from .cluster.admin import add_cluster_parser

        add_cluster_parser(subparsers)
    from .snapshot.restore import add_restore_parser

    add_restore_parser(subparsers)
