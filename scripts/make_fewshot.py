"""Write ``river_agent/prompts/fewshot.yaml`` from RVE-Synth cases (the worked examples of the staged prompt).

    python scripts/make_fewshot.py SUITE_DIR [--k 4] [--budget 160] [--out river_agent/prompts/fewshot.yaml]

Use a suite generated with a seed the evaluation does not use (e.g. ``river bench generate --seed 7``). Each
example's twin is pruned to at most ``--max-objects`` objects, keeping the query's answer unchanged (the case's
logic is re-executed on the pruned twin), so examples stay short; the view is the same compact view the policy
reads. The think text is a plain reading of the case's logic form.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from river_agent.bench.logic import resolve
from river_agent.graphs.rollout import prompt_view
from river_agent.twin.io import load_twin
from river_agent.twin.schema import Twin

REL_WORDS = {
    "left_of": "left of",
    "right_of": "right of",
    "in_front_of": "in front of",
    "behind": "behind",
    "overtakes": "overtakes",
    "appears_after": "appears after",
}
KEY_WORDS = {
    "depth": ("nearest", "farthest"),
    "size": ("smallest", "largest"),
    "x": ("leftmost", "rightmost"),
    "speed": ("slowest", "fastest"),
    "first": ("first to appear", "last to appear"),
    "last": ("first to leave", "last to leave"),
}


def explain(logic: dict[str, Any]) -> str:
    op = logic["op"]
    inner = explain(logic["of"]) if "of" in logic else "the objects"
    if op == "all":
        return "the objects"
    if op == "filter":
        where = ", ".join(f"{k}={v}" for k, v in logic["where"].items())
        return f"{inner} with {where}"
    if op == "concept":
        return f"the {logic['concept']}s among {inner}"
    if op == "pred":
        verb = {"static": "are static", "moving": "are moving"}.get(logic["pred"], logic["pred"])
        return f"{inner} that {verb}"
    if op == "rel":
        return f"{inner} {REL_WORDS.get(logic['rel'], logic['rel'])} {explain(logic['ref'])}"
    if op == "same":
        return f"{inner} with the same {logic['attr']} as {explain(logic['ref'])}"
    if op in ("argmin", "argmax"):
        word = KEY_WORDS.get(logic["key"], (f"min {logic['key']}", f"max {logic['key']}"))[op == "argmax"]
        return f"the {word} of {inner}"
    return op


def prune(twin: Twin, logic: dict[str, Any], target: set[int], max_objects: int) -> Twin | None:
    """A copy of ``twin`` with at most ``max_objects`` objects on which ``logic`` still gives ``target``."""
    ids = twin.object_ids()
    others = [i for i in ids if i not in target]
    for n in range(min(max_objects, len(ids)) - len(target), -1, -1):
        for keep in itertools.combinations(others, n):
            kept = set(target) | set(keep)
            small = twin.copy_twin()
            for f in small.frames:
                f.instances = [i for i in f.instances if i.id in kept]
            if resolve(logic, small) == target:
                return small
        if n <= 1:
            break
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", type=Path)
    ap.add_argument("--k", type=int, default=4, help="How many examples.")
    ap.add_argument("--budget", type=int, default=240, help="Token budget of each example's view (approx).")
    ap.add_argument("--max-objects", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("river_agent/prompts/fewshot.yaml"))
    args = ap.parse_args()
    examples, seen = [], set()
    for case_json in sorted(args.suite.glob("*/case.json")):
        case = json.loads(case_json.read_text())
        key = (case["level"], case["edit"]["op"])
        if case.get("needs_generative") or key in seen or case["edit"]["op"] in {e[1] for e in seen}:
            continue
        twin = load_twin(case_json.parent / case["twin"])
        target = set(case["target_ids"])
        small = prune(twin, case["logic"], target, args.max_objects)
        if small is None:
            continue
        seen.add(key)
        edit = [
            {"op": case["edit"]["op"], "id": i, **{k: v for k, v in case["edit"].items() if k != "op"}}
            for i in sorted(target)
        ]
        ids = ", ".join(f"#{i}" for i in sorted(target))
        examples.append(
            {
                "id": case["id"],
                "level": case["level"],
                "category": case["category"],
                "view": prompt_view(small, args.budget) + "\n",
                "query": case["query"],
                "think": f"I need {explain(case['logic'])}. That is {ids}.",
                "target": ", ".join(str(i) for i in sorted(target)),
                "edit": json.dumps(edit),
            }
        )
        if len(examples) >= args.k:
            break
    examples.sort(key=lambda e: e["level"])
    header = (
        f"# Worked examples for the staged prompt, drawn from RVE-Synth cases of {args.suite.name}\n"
        "# (written by scripts/make_fewshot.py; twins pruned with the query's answer kept).\n"
    )
    args.out.write_text(
        header + yaml.safe_dump({"examples": examples}, sort_keys=False, width=110, allow_unicode=True)
    )
    print(f"wrote {len(examples)} examples to {args.out}")


if __name__ == "__main__":
    main()
