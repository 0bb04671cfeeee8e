"""Start-up of `river edit` on the embedded defaults: SmolLM2 load cold vs warm; reason stage vs generation.

Every measurement runs in a fresh process (as `river edit` does), with RIVER_CACHE_DIR set to a temporary folder
so the user's cache is left alone:

  gguf        load_model(<the GGUF file>): what every run paid before the converted cache (tokenizer + dequantise)
  cold        load_model(None) with an empty cache: converts the GGUF and writes the cache once
  warm        load_model(None) again: reads the cached safetensors folder
  edit cold   the demo edit (perception -> reason -> render) with an empty cache
  edit warm   the same edit (same seed: the rollouts must be identical) with the cache built

python scripts/bench_startup.py                     # the demo case (tests/fixtures/rve-synth-mini/synth-s0-0003)
python scripts/bench_startup.py --threads 1 --no-edit
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's river_agent

DEMO_CASE = ROOT / "tests" / "fixtures" / "rve-synth-mini" / "synth-s0-0003"


# ------------------------------------------------------------------------------------------------- children
def child_load(mode: str, threads: int | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    import torch

    if threads:
        torch.set_num_threads(threads)
    from river_agent.backends.transformers_backend import embedded_gguf_path, load_model

    stats: dict[str, Any] = {}
    t1 = time.perf_counter()
    load_model(str(embedded_gguf_path()) if mode == "gguf" else None, stats=stats)
    stats["load_total_ms"] = (time.perf_counter() - t1) * 1000
    stats["import_ms"] = stats.get("import_ms", 0.0) + (t1 - t0) * 1000  # torch counted here, not in load_model
    return stats


def child_edit(case: Path, query: str, out: Path, seed: int | None, threads: int | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    from river_agent.agent import AgentConfig, RiverAgent

    import_ms = (time.perf_counter() - t0) * 1000
    agent = RiverAgent(AgentConfig(progress=False, torch_threads=threads, seed=seed))
    res = agent.edit(case / "video.mp4", query, out)
    trace = res.trace
    op = (trace.extra.get("op_stage") or {}) if trace else {}
    return {
        "ok": res.ok,
        "error": res.error,
        "import_agent_ms": import_ms,
        "stages": res.timings,
        "trace": trace.timings if trace else {},
        "op_stage_ms": op.get("duration_ms", 0.0),
        "startup": agent.startup_info,
        "ops": res.ops,
        "completion": trace.completion_text if trace else "",
    }


# ------------------------------------------------------------------------------------------------- parent
def run_child(args: list[str], cache: Path) -> tuple[dict[str, Any], float]:
    env = {**os.environ, "RIVER_CACHE_DIR": str(cache), "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, cwd=ROOT
    )
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1]), wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", type=Path, default=DEMO_CASE, help="case folder (video.mp4, case.json)")
    ap.add_argument("--query", default=None, help="the request (default: the case's query)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, as the demo)")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed: cold and warm edits must then agree")
    ap.add_argument("--no-edit", action="store_true", help="only the model loads")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads_arg = [str(args.threads or 0)]

    if args.child:  # internal: one measurement in this fresh process, JSON on the last line
        kind = args.child[0]
        threads = int(args.child[-1]) or None
        if kind == "load":
            result = child_load(args.child[1], threads)
        else:
            seed = None if args.child[4] == "none" else int(args.child[4])
            result = child_edit(Path(args.child[1]), args.child[2], Path(args.child[3]), seed, threads)
        print(json.dumps(result, default=str))
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 150))
    query = args.query or json.loads((args.case / "case.json").read_text())["query"]
    raw: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="river-bench-startup-") as tmp:
        tmp_path = Path(tmp)
        loads = Table(title="Embedded SmolLM2 load, fresh process each (seconds)")
        for col in ("run", "source", "imports", "tokenizer", "weights", "cache write", "load total", "process"):
            loads.add_column(col, justify="left" if col in ("run", "source") else "right")
        for name, mode, cache in (
            ("gguf (before)", "gguf", tmp_path / "unused"),
            ("cold cache", "cache", tmp_path / "c1"),
            ("warm cache", "cache", tmp_path / "c1"),
        ):
            console.print(f"[dim]load: {name} ...[/]")
            s, wall = run_child(["load", mode, *threads_arg], cache)
            raw[name] = {**s, "process_s": wall}
            sec = lambda k, s=s: f"{s[k] / 1000:.2f}" if k in s else "-"  # noqa: E731
            loads.add_row(
                name,
                str(s.get("source")),
                sec("import_ms"),
                sec("tokenizer_ms"),
                sec("weights_ms"),
                sec("cache_write_ms"),
                sec("load_total_ms"),
                f"{wall:.2f}",
            )
        console.print(loads)
        if args.no_edit:
            _dump(args.json, raw)
            return

        edits = Table(title=f"`river edit` on {args.case.name}: the reason stage (seconds)")
        for col in (
            "run",
            "reason stage",
            "start-up",
            "model",
            "generate_ms",
            "op stage gen",
            "rollout total",
            "rollout rest",
            "outside rollout",
            "process",
        ):
            edits.add_column(col, justify="left" if col in ("run", "model") else "right")
        for name, cache in (("edit cold cache", tmp_path / "c2"), ("edit warm cache", tmp_path / "c2")):
            console.print(f"[dim]{name} ...[/]")
            out = tmp_path / f"{name.replace(' ', '-')}.mp4"
            seed_arg = "none" if args.seed is None else str(args.seed)
            e, wall = run_child(["edit", str(args.case), query, str(out), seed_arg, *threads_arg], cache)
            raw[name] = {**e, "process_s": wall}
            if not e["ok"]:
                console.print(f"[red]{name} failed:[/] {e['error']}")
            t, reason, op = e["trace"], e["stages"].get("reason", 0.0), e["op_stage_ms"] / 1000
            start, gen, total = (t.get(k, 0.0) / 1000 for k in ("startup_ms", "generate_ms", "total_ms"))
            edits.add_row(
                name,
                f"{reason:.1f}",
                f"{start:.1f}",
                str(e["startup"].get("source", "-")),
                f"{gen:.1f}",
                f"{op:.1f}",
                f"{total:.1f}",
                f"{total - gen - op:.2f}",
                f"{reason - start - total:.2f}",
                f"{wall:.1f}",
            )
        console.print(edits)
        cold, warm = raw["edit cold cache"], raw["edit warm cache"]
        same = cold["ops"] == warm["ops"] and cold["completion"] == warm["completion"]
        console.print(
            f"edit: {json.dumps(warm['ops'])}; cold (GGUF weights) and warm (cache) rollouts identical: {same}"
        )
        console.print(
            "start-up: building the policy (imports, tokenizer, weights, cache write); generate_ms: the trace's "
            "generation time (the edit turn); op stage gen: the op-stage generation, which generate_ms does not "
            "count; rollout total: the trace's total_ms; rollout rest: rollout total - both generations; outside "
            "rollout: reason stage - start-up - rollout total (saving the trace); process: the whole child."
        )
    _dump(args.json, raw)


def _dump(path: Path | None, raw: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
