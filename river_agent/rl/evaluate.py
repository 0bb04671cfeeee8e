"""Twin-level evaluation of a policy: rollouts over items, judged on ground truth (right ids and op).

This is the fast check used while training (no rendering); the benchmark's pixel-level numbers come from
``river bench eval --system river --gt-twin``. ``python -m river_agent.rl.evaluate --adapter DIR --seed 7``
prints a table per level, split into items the trainer could have seen phrasings of and held-out ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from river_agent.errors import RiverError
from river_agent.graphs.rollout import Rollout, RolloutConfig
from river_agent.rl.data import Item, case_items, held_out_reason, synth_items
from river_agent.trace import Trace, save_traces


def rollout_row(item: Item, trace: Trace, judge: Any) -> dict[str, Any]:
    """One evaluated rollout: on target, valid, code ran, timings, tokens."""
    from river_agent.rl.judges import CaseInfo, param_mismatch

    verdict = judge.judge(trace, CaseInfo(query=item.query, target_ids=item.target_ids, edit=item.edit))
    runs = [s.sandbox for s in trace.segments if s.sandbox is not None]
    votes = [v for s in trace.segments for v in (s.votes or [])]
    picked = sorted({int(op["id"]) for op in trace.ops or [] if isinstance(op, dict) and "id" in op})
    ops = sorted({str(op.get("op")) for op in trace.ops or [] if isinstance(op, dict)})
    return {
        "item": item.id,
        "level": item.level,
        "held_out": held_out_reason(item) or "",
        "on_target": bool(verdict.ok),
        "right_ids": picked == sorted(item.target_ids),
        "right_op": ops == [item.edit["op"]],
        # the op's parameters do what the request asks (colour, move direction, grow or shrink)
        "right_params": ops == [item.edit["op"]]
        and all(param_mismatch(op, item.edit) is None for op in trace.ops or [] if isinstance(op, dict)),
        "valid": bool(trace.valid),
        "executed": bool(runs),
        "code_ok": bool(runs) and all(r.ok for r in runs),
        "samples": len(votes),
        "samples_ok": sum(1 for v in votes if v["ok"]),
        # some sampled program printed the right ids: the ceiling of a better vote over the same samples
        "any_sample_right": any(sorted(v.get("ids") or []) == sorted(item.target_ids) for v in votes),
        # how many sampled programs printed exactly the target ids: per-program accuracy, a less noisy measure
        # than the voted answer for comparing two policies on the same items
        "samples_right": sum(
            1 for v in votes if v["ok"] and sorted(v.get("ids") or []) == sorted(item.target_ids)
        ),
        "sandbox_ms": sum(r.duration_ms for r in runs),
        "reason_ms": trace.timings.get("total_ms", 0.0),
        "generate_ms": trace.timings.get("generate_ms", 0.0),
        "tokens": sum(s.num_tokens for s in trace.segments if s.source == "policy"),
    }


def evaluate(
    policy: Any, items: list[Item], config: RolloutConfig, traces_out: Path | None = None, progress: bool = True
) -> list[dict[str, Any]]:
    """Roll out ``policy`` once per item and judge each rollout on ground truth."""
    from river_agent.rl.judges import make_judge

    judge = make_judge("ground-truth")
    rollout = Rollout(policy, config)
    rows = []
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("evaluating", total=len(items))
    try:
        for item in items:
            trace = rollout.run(item.load_twin(), item.query)
            trace.extra["item"] = item.id
            rows.append(rollout_row(item, trace, judge))
            if traces_out is not None:
                save_traces(traces_out, [trace])
            if bar is not None:
                bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    return rows


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rates per group: 'L1'..'L3', 'all', and 'seen'/'held-out' phrasing splits."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[f"L{r['level']}"].append(r)
        groups["all"].append(r)
        groups["held-out" if r["held_out"] else "seen"].append(r)
    out = {}
    for name, rs in sorted(groups.items()):
        executed = [r for r in rs if r["executed"]]
        out[name] = {
            "n": len(rs),
            "on_target": round(sum(r["on_target"] for r in rs) / len(rs), 3),
            "right_ids": round(sum(r["right_ids"] for r in rs) / len(rs), 3),
            "right_op": round(sum(r["right_op"] for r in rs) / len(rs), 3),
            "right_params": _ratio(sum(r.get("right_params", False) for r in rs), len(rs)),
            "valid": round(sum(r["valid"] for r in rs) / len(rs), 3),
            "code_ok": round(sum(r["code_ok"] for r in executed) / len(executed), 3) if executed else None,
            "sample_ok": _ratio(sum(r.get("samples_ok", 0) for r in rs), sum(r.get("samples", 0) for r in rs)),
            "sample_right": _ratio(
                sum(r.get("samples_right", 0) for r in rs), sum(r.get("samples", 0) for r in rs)
            ),
            "any_sample_right": _ratio(sum(r.get("any_sample_right", False) for r in rs), len(rs))
            if any(r.get("samples") for r in rs)
            else None,
            "reason_s_median": round(statistics.median(r["reason_ms"] for r in rs) / 1000, 2),
            "sandbox_ms_median": round(statistics.median(r["sandbox_ms"] for r in rs), 1),
            "tokens_median": statistics.median(r["tokens"] for r in rs),
        }
    return out


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 3) if den else None


def print_table(summary: dict[str, dict[str, Any]], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    cols = ["n", "on_target", "right_ids", "right_op", "right_params", "valid", "code_ok", "sample_ok"]
    cols += ["sample_right", "any_sample_right", "reason_s_median", "tokens_median"]
    table.add_column("group")
    for c in cols:
        table.add_column(c, justify="right")
    for name, s in summary.items():
        table.add_row(name, *("-" if s[c] is None else str(s[c]) for c in cols))
    Console().print(table)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m river_agent.rl.evaluate", description=__doc__)
    p.add_argument("--adapter", help="LoRA adapter folder ('none': the base model; default: none).")
    p.add_argument("--strategy", default="code", help="Rollout strategy: code | staged | free.")
    p.add_argument("--cases", help="Folder of cases (else RVE-Synth items made in memory).")
    p.add_argument("--seed", type=int, default=7, help="RVE-Synth seed of the items (held back from training).")
    p.add_argument("--n", type=int, default=36, help="Items.")
    p.add_argument("--frame-size", default="416x240x24")
    p.add_argument("--few-shot", action="store_true", help="Staged: show worked examples (the untrained setting).")
    p.add_argument("--op-stage", action="store_true", help="Staged: the op stage (the untrained setting).")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--code-samples", type=int, default=1, help="Code: programs sampled (at T 0.7) and voted on.")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--no-ground-params",
        action="store_true",
        help="Keep the policy's move direction / resize way even where the request states another.",
    )
    p.add_argument(
        "--no-vote-by-number",
        action="store_true",
        help="Plain majority vote over the sampled programs (no one-object preference, first-seen ties).",
    )
    p.add_argument("--out", help="Write rows, summary and traces here.")
    a = p.parse_args(argv)
    try:
        import torch

        torch.set_num_threads(a.threads)
        from river_agent.backends.transformers_backend import TransformersBackend

        policy = TransformersBackend()
        if a.adapter and a.adapter != "none":
            policy.load_adapter(a.adapter, "policy")
        if a.cases:
            items = case_items(a.cases)[: a.n]
        else:
            w, h, n = (int(x) for x in a.frame_size.split("x"))
            items = list(synth_items(a.seed, a.n, width=w, height=h, frames=n))
        cfg = RolloutConfig(
            strategy=a.strategy,
            few_shot=a.few_shot,
            few_shot_k=4,
            op_stage=a.op_stage,
            temperature=a.temperature,
            code_samples=a.code_samples,
            view_budget=400,
            ground_params=not a.no_ground_params,
            vote_by_number=not a.no_vote_by_number,
        )
        out = Path(a.out) if a.out else None
        if out:
            out.mkdir(parents=True, exist_ok=True)
        rows = evaluate(policy, items, cfg, out / "traces.jsonl" if out else None)
    except RiverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    summary = summarize(rows)
    print_table(summary, f"{a.strategy} adapter={a.adapter or 'none'} items={len(items)}")
    if out:
        (out / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
