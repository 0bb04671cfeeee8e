"""Generator speed benchmark: time planning, rendering+writing of RVE-Synth cases."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from river_agent.bench.generate import GenConfig, plan_case, write_case


def run_speed(
    frames: int = 48, width: int = 832, height: int = 480, cases: int = 3, seed: int = 0, backgrounds: str = "flat"
) -> list[dict]:
    """Per case: plan (scene sampling + query search) and write (render source/expected, twin, masks) seconds."""
    cfg = GenConfig(n=cases, seed=seed, frames=frames, width=width, height=height, backgrounds=backgrounds)
    cfg.check()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(cases):
            t0 = time.perf_counter()
            spec = plan_case(i, cfg)
            t1 = time.perf_counter()
            write_case(spec, Path(tmp))
            t2 = time.perf_counter()
            rows.append(
                {
                    "case": spec.case_id,
                    "level": spec.level,
                    "category": spec.category,
                    "op": spec.edit["op"],
                    "plan_s": t1 - t0,
                    "write_s": t2 - t1,
                    "total_s": t2 - t0,
                }
            )
    return rows


def print_speed(rows: list[dict], budget_s: float = 10.0) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="RVE-Synth generator speed (one case = plan + render + write)")
    for col in ("case", "cell", "op", "plan s", "write s", "total s", f"< {budget_s:g} s"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["case"],
            f"L{r['level']} {r['category']}",
            r["op"],
            f"{r['plan_s']:.2f}",
            f"{r['write_s']:.2f}",
            f"{r['total_s']:.2f}",
            "yes" if r["total_s"] < budget_s else "NO",
        )
    Console().print(table)
