"""Tokens per second of an LLM backend: greedy, n=4 sampled, with and without the RIVER turn constraint.

python scripts/bench_backends.py                      # embedded SmolLM2 via transformers
python scripts/bench_backends.py --max-tokens 64 --threads 2
python scripts/bench_backends.py --backend litellm --model hosted_vllm/smollm2 --api-base http://127.0.0.1:8000/v1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's river_agent

from rich.console import Console
from rich.table import Table

PROMPT = [
    {
        "role": "user",
        "content": "Objects: 1 red car (left), 2 blue truck (right). Remove whatever is on the left. "
        "Answer as <think>...</think> then <edit>[ops]</edit>.",
    }
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="transformers", help="transformers | litellm | vllm")
    ap.add_argument("--model", default=None, help="model path / litellm model name (default: embedded SmolLM2)")
    ap.add_argument("--api-base", default=None, help="litellm: server URL")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (transformers); 1 on a busy machine")
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from river_agent.backends import SamplingParams, get_backend
    from river_agent.backends.constraints import river_turn_constraint

    console = Console()
    t0 = time.perf_counter()
    backend = get_backend({"backend": args.backend, "model": args.model, "api_base": args.api_base})
    load_s = time.perf_counter() - t0
    turn = river_turn_constraint([1, 2], min_ops=1, max_ops=2, max_string_chars=16, max_think_chars=60)
    cases = [
        ("greedy x1", SamplingParams(max_tokens=args.max_tokens, temperature=0), None),
        ("sampled n=4", SamplingParams(max_tokens=args.max_tokens, n=4, seed=0, temperature=0.7), None),
        ("greedy x1 + turn constraint", SamplingParams(max_tokens=args.max_tokens, temperature=0), turn),
        (
            "sampled n=4 + turn constraint",
            SamplingParams(max_tokens=args.max_tokens, n=4, seed=0, temperature=0.7),
            turn,
        ),
    ]
    backend.generate(PROMPT, SamplingParams(max_tokens=4, temperature=0))  # warm-up
    table = Table(
        title=f"{backend.name} backend ({args.model or 'embedded SmolLM2-135M'}), load {load_s:.1f} s, "
        f"torch threads {torch.get_num_threads()}"
    )
    for col in ("case", "completions", "tokens", "seconds", "tok/s", "well-formed"):
        table.add_column(col, justify="right" if col != "case" else "left")
    import re

    pattern = re.compile(r"<think>.*</think>\n?(<execute>.*</execute>|<edit>.*</edit>)", re.S)
    for label, params, constraint in cases:
        t = time.perf_counter()
        out = backend.generate(PROMPT, params, constraint)
        dt = time.perf_counter() - t
        toks = sum(len(c.token_ids or []) for c in out)
        ok = sum(bool(pattern.fullmatch(c.text)) for c in out)
        table.add_row(label, str(len(out)), str(toks), f"{dt:.2f}", f"{toks / dt:.1f}", f"{ok}/{len(out)}")
    console.print(table)


if __name__ == "__main__":
    main()
