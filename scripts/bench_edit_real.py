"""`river edit` end to end on real-background cases: exit status, stage timings, output, median wall time.

Each case runs the real CLI in a fresh process (`python -m river_agent.cli edit VIDEO "QUERY" --out ...`), as a
user would, with one torch/BLAS thread. A run is `ok` (exit 0 and the output video exists), `failed` (non-zero
exit with the CLI's recorded `error:` line and no Python traceback), `crash` (a traceback, or exit 0 without a
video) or `timeout`.

    river bench generate --backgrounds real --n 36 --seed 11 --out runs/real/s11
    python scripts/bench_edit_real.py runs/real/s11 --n 10 --out runs/real/edit
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from river_agent.bench.cases import Case, CaseError, list_cases

ROOT = Path(__file__).resolve().parents[1]
STAGE = re.compile(r"^(\w+)\s+(ok|failed)\s+([\d.]+) s\s*$")
console = Console(width=160)


def parse(text: str) -> dict[str, Any]:
    """Stage timings, the recorded error line and whether a Python traceback appeared, from the CLI's output."""
    stages: dict[str, float] = {}
    error = ""
    for line in text.splitlines():
        m = STAGE.match(line.strip())
        if m:
            stages[m.group(1)] = float(m.group(3))
        elif line.strip().startswith("error:"):
            error = line.strip()[len("error:") :].strip()
    return {"stages": stages, "error": error, "traceback": "Traceback (most recent call last)" in text}


def run_case(case: Case, out_dir: Path, threads: int, timeout: float) -> dict[str, Any]:
    """Run `river edit` on one case; its row (status, wall time, stages, output, message)."""
    out = out_dir / case.root.name / "edited.mp4"
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "river_agent.cli", "edit", str(case.video_path.resolve()), case.query]
    cmd += ["--out", str(out), "--threads", str(threads), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    env.setdefault("HF_HUB_OFFLINE", "1")
    row: dict[str, Any] = {"case": case.root.name, "op": case.edit.get("op"), "query": case.query}
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        row.update(status="timeout", rc=None, wall_s=time.perf_counter() - start, stages={}, output="")
        row["message"] = f"no result after {timeout:.0f} s"
        return row
    row["wall_s"] = time.perf_counter() - start
    text = proc.stdout + "\n" + proc.stderr
    (out_dir / case.root.name / "log.txt").write_text(text)
    info = parse(text)
    row.update(rc=proc.returncode, stages=info["stages"], output=str(out) if out.exists() else "")
    if info["traceback"]:
        row["status"] = "crash"
        row["message"] = text.strip().splitlines()[-1][:200]
    elif proc.returncode == 0 and out.exists():
        row["status"], row["message"] = "ok", ""
    elif proc.returncode == 0:
        row["status"], row["message"] = "crash", "exit 0 but no output video"
    else:
        row["status"] = "failed"
        row["message"] = info["error"] or (text.strip().splitlines() or ["(no output)"])[-1][:200]
    return row


def print_rows(rows: list[dict[str, Any]]) -> None:
    stages = sorted({s for r in rows for s in r["stages"]}, key=lambda s: min(
        list(r["stages"]).index(s) for r in rows if s in r["stages"]
    ))  # fmt: skip
    table = Table(title="river edit on real-background cases")
    for col in ("case", "op", "status", "rc", "wall s", *[f"{s} s" for s in stages], "output / message"):
        table.add_column(col, justify="right" if col.endswith(" s") or col == "rc" else "left")
    style = {"ok": "green", "failed": "yellow", "crash": "red", "timeout": "red"}
    for r in rows:
        cells = [f"{r['stages'][s]:.1f}" if s in r["stages"] else "-" for s in stages]
        table.add_row(
            r["case"], str(r["op"]), f"[{style[r['status']]}]{r['status']}[/]", str(r["rc"]), f"{r['wall_s']:.1f}",
            *cells, r["output"] or r["message"],
        )  # fmt: skip
        if r["output"] and r["message"]:
            table.add_row("", "", "", "", "", *["" for _ in stages], r["message"])
    console.print(table)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "failed", "crash", "timeout")}
    median = statistics.median(r["wall_s"] for r in rows) if rows else float("nan")
    console.print(f"{len(rows)} runs: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    console.print(f"median wall time {median:.1f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", type=Path, help="Case-format suite (e.g. river bench generate --backgrounds real).")
    ap.add_argument("--n", type=int, default=10, help="Run the first N cases.")
    ap.add_argument("--out", type=Path, default=Path("runs/real/edit"), help="Outputs, logs and results.json.")
    ap.add_argument("--threads", type=int, default=1, help="torch/BLAS threads per run.")
    ap.add_argument("--timeout", type=float, default=900.0, help="Seconds before a run counts as a timeout.")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        suite = list_cases(args.suite)[: args.n]
    except CaseError as exc:
        raise SystemExit(str(exc)) from None
    for case in suite:
        rows.append(run_case(case, args.out.resolve(), args.threads, args.timeout))
        r = rows[-1]
        console.print(f"{r['case']}: {r['status']} in {r['wall_s']:.1f} s {r['message']}", highlight=False)
        (args.out / "results.json").write_text(json.dumps(rows, indent=1))
    print_rows(rows)


if __name__ == "__main__":
    main()
