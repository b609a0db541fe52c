"""The README results table, generated from the benchmark JSON files.

One row per target of every ``<results>/*.json`` that has ``targets`` (see
:mod:`bench.common`), in benchmark order: memvec's value, the peer's (or the named
baseline's), the ratio the target is stated in, the target, met / not met, and the
machine and mode of that run. Files holding an ``error`` get one row saying so.

    python -m bench.report [--results bench/results] [--readme README.md]

Without ``--readme`` the table goes to stdout. With it, the text between the lines
``<!-- bench:begin -->`` and ``<!-- bench:end -->`` is replaced; the markers must already
be in the file (add them where the table belongs).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .common import machine_label

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# vector_query_20k: a --quick vector_query run kept beside the --full one (issue #16 sets
# its KNN goals at 20k and at 100k vectors)
ORDER = ("vector_query", "vector_query_20k", "ingest", "restart", "memory", "pipeline",
         "freshness", "replica_lag", "quality", "reliability", "concurrency")  # fmt: skip
PEER = "redis-stack"


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        text = f"{int(value):,}"
    return f"{text} {unit}".strip()


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "-"}[met]


def load_results(results: Path) -> list[dict[str, Any]]:
    """The result files in benchmark order (unknown names last, alphabetically)."""
    found = {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("*.json"))}
    names = [n for n in ORDER if n in found] + sorted(set(found) - set(ORDER))
    return [found[n] for n in names if "targets" in found[n] or "error" in found[n]]


def table(results: Sequence[dict[str, Any]]) -> str:
    lines = [
        "| benchmark | measure | memvec | redis-stack-server (or baseline) | ratio | target "
        "| met? | machine, run |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for res in results:
        name = res.get("name", "?")
        machine = res.get("machine", {})
        run = f"{machine_label(machine)}; {res.get('mode')} {machine.get('date_utc', '')[:10]}"
        if "error" in res:
            lines.append(f"| {name} | failed: {res['error'][:80]} | | | | | **no** | {run} |")
            continue
        for t in res["targets"]:
            base = _num(t["baseline"], t["unit"])
            if t["baseline_name"] != PEER:
                base = f"{base} ({t['baseline_name']})"
            ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
            lines.append(
                f"| {name} | {t['metric']} | {_num(t['memvec'], t['unit'])} | {base} | {ratio} "
                f"| {t['target']} | {_met(t['met'])} | {run} |"
            )
    return "\n".join(lines) + "\n"


def replace_between_markers(text: str, block: str) -> str:
    """``text`` with the lines between the bench markers replaced by ``block``."""
    if BEGIN not in text or END not in text or text.index(BEGIN) > text.index(END):
        raise ValueError(f"add the lines {BEGIN} and {END} where the table belongs, then rerun")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}{END}{tail}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--results", type=Path, default=Path("bench/results"))
    ap.add_argument("--readme", type=Path, default=None, help="rewrite the table in this file")
    args = ap.parse_args(argv)
    block = table(load_results(args.results))
    if args.readme is None:
        sys.stdout.write(block)
        return 0
    try:
        args.readme.write_text(replace_between_markers(args.readme.read_text(), block))
    except ValueError as exc:
        print(f"{args.readme}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
