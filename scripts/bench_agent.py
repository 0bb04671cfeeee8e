"""Benchmarks of the reasoning agent (issue #5), printed as rich tables.

    python scripts/bench_agent.py                      # graph overhead + view tokens (seconds)
    python scripts/bench_agent.py --cases DIR -k 3     # + the embedded policy on RVE-Synth cases (oracle twins)

1. Graph overhead per transition: the rollout graph driven by an instant scripted policy and a no-op sandbox
   (so what is timed is LangGraph plus our nodes: prompt building, parsing, state updates), without and with
   the SQLite checkpointer. Target: <= 2 ms per transition.
2. Tokens of the compact view vs the paper-form per-frame JSON (SmolLM2 tokenizer) for a 48-frame,
   6-object twin.
3. With --cases: rollouts of the embedded policy (SmolLM2-135M-Instruct) with the ground-truth twin of each
   case: valid-D' rate (R_dt) and on-target rate (the edit names exactly the case's target objects and the
   case's op) per level; traces go to --traces.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from river_agent.graphs.rollout import Rollout, RolloutConfig
from river_agent.twin.io import dump_twin_json
from river_agent.twin.schema import Twin
from river_agent.twin.view import compact_view

console = Console()


# ------------------------------------------------------------------------------------------- test doubles
@dataclass
class _Done:
    text: str
    finish_reason: str = "stop"
    stop_sequence: str | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    prompt_token_ids: list[int] | None = None


class InstantPolicy:
    """Benchmark double: `turns` execute turns, then an edit; answers instantly."""

    def __init__(self, turns: int) -> None:
        self.turns, self.calls = turns, 0

    def generate(self, prompt: Any, params: Any, constraint: Any = None) -> list[_Done]:
        self.calls += 1
        if self.calls <= self.turns:
            return [_Done("<think>look</think><execute>print(1)", stop_sequence="</execute>", token_ids=[1] * 8)]
        return [
            _Done(
                '<think>done</think><edit>[{"op": "remove", "id": 2}]', stop_sequence="</edit>", token_ids=[1] * 12
            )
        ]


@dataclass
class _Res:
    ok: bool = True
    output: str = "1"
    error: str | None = None
    error_type: str | None = None
    duration_ms: float = 0.0
    timed_out: bool = False
    killed: bool = False
    truncated: bool = False


class NoopSandbox:
    def run(self, code: str) -> _Res:
        return _Res()


@contextlib.contextmanager
def noop_factory(twin: Twin) -> Any:
    yield NoopSandbox()


def synthetic_twin(n_frames: int = 48, n_objects: int = 6, seed: int = 0) -> Twin:
    """A 832x480 twin of ``n_objects`` moving shapes over ``n_frames`` (no masks on disk)."""
    rng = random.Random(seed)
    cats = ["car", "truck", "bus", "person", "ball", "cube", "cone", "bike"]
    colours = ["red", "blue", "green", "white", "black", "yellow", "orange", "purple"]
    objs = []
    for i in range(1, n_objects + 1):
        objs.append(
            dict(
                id=i,
                cat=rng.choice(cats),
                color=rng.choice(colours),
                x=rng.uniform(80, 750),
                y=rng.uniform(80, 400),
                vx=rng.uniform(-6, 6),
                vy=rng.uniform(-2, 2),
                d=rng.uniform(0.1, 0.9),
                s=rng.randint(1500, 12000),
            )
        )
    frames = []
    for t in range(n_frames):
        insts = []
        for o in objs:
            x, y = o["x"] + o["vx"] * t, o["y"] + o["vy"] * t
            r = int((o["s"] / 3.14) ** 0.5)
            insts.append(
                {
                    "id": o["id"],
                    "category": o["cat"],
                    "attributes": {
                        "color": o["color"],
                        "size": "large" if o["s"] > 7000 else "small",
                        "pattern": "plain",
                    },
                    "mask": f"masks/{t:05d}.png#{o['id']}",
                    "spatial": {
                        "x": round(x, 1),
                        "y": round(y, 1),
                        "depth": round(o["d"], 3),
                        "size": o["s"],
                        "bbox": [int(x - r), int(y - r), int(x + r), int(y + r)],
                    },
                }
            )
        frames.append({"t": t, "mask": f"masks/{t:05d}.png", "instances": insts})
    return Twin.model_validate(
        {
            "video": {"path": "video.mp4", "fps": 24.0, "width": 832, "height": 480, "num_frames": n_frames},
            "frames": frames,
        }
    )


# -------------------------------------------------------------------------------------------- benchmarks
def bench_overhead(twin: Twin, turns: int = 20, reps: int = 15) -> Table:
    from river_agent.graphs.checkpoint import sqlite_checkpointer

    table = Table(title=f"rollout graph overhead ({turns} execute turns + edit, instant policy, no-op sandbox)")
    for col in (
        "checkpointer",
        "transitions",
        "ms / rollout (median)",
        "ms / transition",
        "without twin work",
        "target",
    ):
        table.add_column(col)
    from river_agent.twin.ops import apply_ops, parse_ops
    from river_agent.twin.validate import validate_edited_twin

    tail = []
    for _ in range(5):
        t0 = time.perf_counter()
        validate_edited_twin(apply_ops(twin, parse_ops([{"op": "remove", "id": 2}])), twin)
        tail.append((time.perf_counter() - t0) * 1000)
    tail_ms = statistics.median(tail)
    transitions = 3 * turns + 3  # think/execute/results per turn, then think, edit, validate
    for label in ("none", "SqliteSaver (file, WAL)"):
        times = []
        with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
            saver = None
            if label != "none":
                saver = stack.enter_context(sqlite_checkpointer(Path(tmp) / "ck.db"))
            cfg = RolloutConfig(strategy="free", max_turns=turns + 2)
            for i in range(reps + 1):
                ro = Rollout(InstantPolicy(turns), cfg, executor_factory=noop_factory, checkpointer=saver)
                t0 = time.perf_counter()
                trace = ro.run(twin, "remove the car", thread_id=f"b{i}")
                dt = (time.perf_counter() - t0) * 1000
                assert trace.valid, trace.reason
                if i:  # the first run warms caches
                    times.append(dt)
        med = statistics.median(times)
        per = med / transitions
        net = (med - tail_ms) / transitions
        table.add_row(
            label,
            str(transitions),
            f"{med:.1f}",
            f"{per:.2f}",
            f"{net:.2f}",
            "<= 2 ms " + ("ok" if net <= 2 else "MISSED"),
        )
    table.caption = (
        f"apply_ops + R_dt validation of this twin alone: {tail_ms:.1f} ms per rollout "
        "(twin work, not graph overhead; subtracted in the last-but-one column)"
    )
    return table


def smollm2_tokenizer() -> Any:
    from river_agent.backends.transformers_backend import load_embedded_tokenizer

    return load_embedded_tokenizer()


def bench_view_tokens(twin: Twin) -> Table:
    tok = smollm2_tokenizer()
    count = lambda s: len(tok(s, add_special_tokens=False)["input_ids"])  # noqa: E731
    table = Table(title="compact view vs paper-form JSON (48 frames, 6 objects, SmolLM2 tokenizer)")
    for col in ("form", "characters", "tokens", "vs full JSON"):
        table.add_column(col)
    full = dump_twin_json(twin, indent=None)
    n_full = count(full)
    rows = [("paper-form JSON (compact separators)", full)]
    rows.append(("compact view, no budget", compact_view(twin)))
    for budget in (800, 600, 400, 250):
        rows.append((f"compact view, budget {budget}", compact_view(twin, budget, count)))
    for label, text in rows:
        n = count(text)
        table.add_row(label, str(len(text)), str(n), f"{n / n_full:.1%}")
    return table


# ------------------------------------------------------------------------------------ the embedded policy
def case_target(case_dir: Path, twin: Twin) -> set[int]:
    """Ids of the objects the case's target masks cover (ground truth: twin masks vs target masks)."""
    import numpy as np
    from PIL import Image

    from river_agent.twin.io import label_map

    case = json.loads((case_dir / "case.json").read_text())
    if "target_ids" in case:
        return set(case["target_ids"])
    folder = case_dir / case.get("target_masks", "target_masks")
    votes: dict[int, list[float]] = {}
    for f in twin.frames:
        p = folder / f"{f.t:05d}.png"
        if not p.exists() or not f.instances:
            continue
        target = np.asarray(Image.open(p).convert("L")) > 127
        lm = label_map(twin, f.t)
        for inst in f.instances:
            m = lm == inst.mask_label
            if m.any():
                votes.setdefault(inst.id, []).append(float((m & target).sum() / m.sum()))
    return {i for i, v in votes.items() if statistics.mean(v) > 0.5}


def bench_policy(cases_dir: Path, k: int, traces: Path, cfg_over: dict[str, Any], limit: int | None) -> Table:
    from river_agent.agent import AgentConfig, RiverAgent
    from river_agent.trace import save_traces
    from river_agent.twin.io import load_twin

    case_dirs = sorted(p.parent for p in cases_dir.glob("*/case.json"))[:limit]
    if not case_dirs:
        raise SystemExit(f"{cases_dir}: no cases (folders with case.json)")
    agent = RiverAgent(AgentConfig(**cfg_over))
    stats: dict[int, dict[str, int]] = {}
    t_all = time.perf_counter()
    for cd in case_dirs:
        case = json.loads((cd / "case.json").read_text())
        twin = load_twin(cd / case.get("twin", "twin.json"))
        target = case_target(cd, twin)
        want_op = case["edit"]["op"]
        level = int(case.get("level", 0))
        st = stats.setdefault(
            level,
            {
                "cases": 0,
                "rollouts": 0,
                "valid": 0,
                "on_target": 0,
                "right_op": 0,
                "right_ids": 0,
                "tokens": 0,
                "ms": 0,
            },
        )
        st["cases"] += 1
        for _ in range(k):
            tr = agent.reason(twin, case["query"])
            tr.extra["case"] = case["id"]
            ids = {op.get("id") for op in tr.ops or []}
            ops = {op.get("op") for op in tr.ops or []}
            right_ids = tr.valid and ids == target
            right_op = tr.valid and ops == {want_op}
            tr.extra.update(target_ids=sorted(target), right_ids=right_ids, right_op=right_op)
            save_traces(traces, [tr])
            st["rollouts"] += 1
            st["valid"] += tr.valid
            st["right_ids"] += right_ids
            st["right_op"] += right_op
            st["on_target"] += right_ids and right_op
            st["tokens"] += tr.token_counts()["policy"]
            st["ms"] += tr.timings.get("total_ms", 0)
            console.print(
                f"{case['id']} L{level}: {tr.status} ops={json.dumps(tr.ops)} target={sorted(target)} "
                f"{tr.timings.get('total_ms', 0) / 1000:.1f}s",
                highlight=False,
            )
    table = Table(
        title=f"embedded policy on {len(case_dirs)} cases x {k} rollouts, oracle twins "
        f"({time.perf_counter() - t_all:.0f} s)"
    )
    for col in ("level", "cases", "rollouts", "valid D'", "right ids", "right op", "on target", "s / rollout"):
        table.add_column(col)
    tot = {key: sum(s[key] for s in stats.values()) for key in next(iter(stats.values()))}
    for level, s in [*sorted(stats.items()), ("all", tot)]:
        n = max(s["rollouts"], 1)
        table.add_row(
            str(level),
            str(s["cases"]),
            str(s["rollouts"]),
            f"{s['valid'] / n:.0%}",
            f"{s['right_ids'] / n:.0%}",
            f"{s['right_op'] / n:.0%}",
            f"{s['on_target'] / n:.0%}",
            f"{s['ms'] / n / 1000:.1f}",
        )
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=Path, help="RVE-Synth suite folder: also run the embedded policy on it.")
    ap.add_argument("-k", type=int, default=2, help="Rollouts per case.")
    ap.add_argument("--limit", type=int, help="Only the first N cases.")
    ap.add_argument("--traces", type=Path, default=Path("bench-agent-traces.jsonl"), help="Where traces go.")
    ap.add_argument("--config", default="{}", help="AgentConfig overrides as JSON, e.g. '{\"few_shot\": false}'.")
    ap.add_argument("--threads", type=int, default=1, help="torch threads.")
    ap.add_argument("--skip-basics", action="store_true", help="Only the policy run.")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if not args.skip_basics:
        twin = synthetic_twin()
        console.print(bench_overhead(twin))
        console.print(bench_view_tokens(twin))
    if args.cases:
        cfg = {"progress": False, **json.loads(args.config)}
        console.print(bench_policy(args.cases, args.k, args.traces, cfg, args.limit))


if __name__ == "__main__":
    main()
