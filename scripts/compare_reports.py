"""Side by side: on-target rate per level of several `river bench eval` reports over one suite, split into
requests whose phrasing the trainer could have seen and held-out ones (river_agent.rl.data.held_out_reason).

    python scripts/compare_reports.py runs/seed7 baseline=runs/eval7-baseline untrained=runs/eval7-untrained \
        trained=runs/eval7-trained
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from river_agent.errors import RiverError
from river_agent.rl.data import case_items, held_out_reason


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        items = {it.id: it for it in case_items(argv[0])}
    except RiverError as exc:
        print(f"error: {exc} (the first argument is the suite folder)", file=sys.stderr)
        return 2
    held = {i: bool(held_out_reason(it)) for i, it in items.items()}
    reports = {}
    for arg in argv[1:]:
        name, _, folder = arg.partition("=")
        path = Path(folder or name) / "report.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        reports[name] = {c["id"]: c for c in data["cases"]}
    groups = {
        "L1": lambda c: c["level"] == 1,
        "L2": lambda c: c["level"] == 2,
        "L3": lambda c: c["level"] == 3,
        "all": lambda c: True,
        "seen phrasing": lambda c: not held.get(c["id"], False),
        "held-out phrasing/kind": lambda c: held.get(c["id"], False),
    }
    table = Table(title=f"on target (J >= threshold), {argv[0]}")
    table.add_column("group")
    for name in reports:
        table.add_column(name, justify="right")
    for gname, pred in groups.items():
        row = [gname]
        for cases in reports.values():
            sel = [c for c in cases.values() if pred(c)]
            hit = sum(bool(c.get("on_target")) for c in sel)
            row.append(f"{hit / len(sel):.2f} ({hit}/{len(sel)})" if sel else "-")
        table.add_row(*row)
    Console().print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
