"""Sandbox speed: worker start, round trip per run (target median <= 15 ms), compile time, limit-kill latency.

python scripts/bench_sandbox.py [--calls 200] [--frames 48] [--objects 6]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from river_agent.tools.sandbox import Sandbox, SandboxLimits
from river_agent.tools.sandbox.policy import compile_snippet
from river_agent.twin import Frame, Instance, Spatial, Twin, VideoMeta

TYPICAL = """\
cars = find("car")
best = None
for o in objects():
    s = speed(o.id)
    if best is None or s > best[1]:
        best = (o.id, s)
near = [(a, b, distance(a, b)) for a in cars for b in find("truck")]
print(best, len(near), [overtakes(a, b) for a, b, _ in near][:3])
"""


def synthetic_twin(num_frames: int, num_objects: int) -> Twin:
    cats = ["car", "truck", "person", "dog", "bike", "bus"]
    frames = []
    for t in range(num_frames):
        insts = []
        for i in range(1, num_objects + 1):
            x, y = 20.0 + i * 60 + t * (i % 3 + 1), 100.0 + 30 * i
            insts.append(
                Instance(
                    id=i,
                    category=cats[i % len(cats)],
                    attributes={"color": ["red", "blue"][i % 2]},
                    mask=f"masks/{t:05d}.png#{i}",
                    spatial=Spatial(
                        x=x,
                        y=y,
                        depth=i / (num_objects + 1),
                        size=900,
                        bbox=[int(x) - 15, int(y) - 15, int(x) + 15, int(y) + 15],
                    ),
                )
            )
        frames.append(Frame(t=t, mask=f"masks/{t:05d}.png", instances=insts))
    return Twin(video=VideoMeta(path="v.mp4", fps=24, width=832, height=480, num_frames=num_frames), frames=frames)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200, help="runs per measurement")
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--objects", type=int, default=6)
    args = parser.parse_args()
    console = Console()
    twin = synthetic_twin(args.frames, args.objects)
    twin_bytes = len(twin.model_dump_json())
    rows: list[tuple[str, list[float]]] = []

    compile_ms = []
    for _ in range(args.calls):
        t0 = time.perf_counter()
        code, _, _ = compile_snippet(TYPICAL)
        compile_ms.append((time.perf_counter() - t0) * 1000)
        assert code is not None
    rows.append(("compile_restricted, 8-line snippet (in-process)", compile_ms))

    t0 = time.perf_counter()
    sb = Sandbox(twin, SandboxLimits(cpu_seconds=1, wall_seconds=3))
    start_ms = (time.perf_counter() - t0) * 1000
    try:
        for label, code in (("round trip: `pass`", "pass"), ("round trip: typical twin query", TYPICAL)):
            first = sb.run(code)
            assert first.ok, first.error
            times = [sb.run(code).duration_ms for _ in track(range(args.calls), description=label)]
            rows.append((label, times))
        kill = [sb.run("while True:\n    pass").duration_ms for _ in track(range(3), description="cpu limit")]
        rows.append(("infinite loop stopped by cpu_seconds=1", kill))
        swallow = "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass"
        hard = [sb.run(swallow).duration_ms for _ in track(range(2), description="hard kill")]
        rows.append(("signal-swallowing loop, hard kill", hard))
    finally:
        sb.close()

    table = Table(
        title=f"Sandbox speed ({args.frames} frames x {args.objects} objects, twin JSON {twin_bytes / 1e3:.0f} kB)"
    )
    for col in ("measurement", "n", "median ms", "p90 ms", "max ms"):
        table.add_column(col, justify="right" if col != "measurement" else "left")
    table.add_row("worker start (Sandbox(...))", "1", f"{start_ms:.1f}", "", "")
    for label, values in rows:
        table.add_row(
            label,
            str(len(values)),
            f"{statistics.median(values):.2f}",
            f"{pct(values, 0.9):.2f}",
            f"{max(values):.2f}",
        )
    console.print(table)
    typical = dict(rows)["round trip: typical twin query"]
    ok = statistics.median(typical) <= 15.0
    console.print(
        f"target: median round trip <= 15 ms: [{'green' if ok else 'red'}]{'met' if ok else 'missed'}[/]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
