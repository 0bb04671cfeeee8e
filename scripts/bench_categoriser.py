"""The classical categoriser on kinds it has no template of: leave-one-kind-out over ground-truth tracks.

The shape templates are built from the generator's own silhouettes, so category accuracy on RVE-Synth mostly
measures the generator. Here each kind in turn is left out of the templates, and the categoriser is run on the
ground-truth tracks (visible masks, occlusions included) of a suite's twins: for objects of the left-out kind
the right answer is the generic ``object`` (it has no name for them), anything else is a confident mistake.
Objects of the kinds it knows are scored as usual, so the table shows what abstaining costs.

    river bench generate --n 36 --seed 11 --out runs/flat11
    python scripts/bench_categoriser.py runs/flat11
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from river_agent.bench.cases import list_cases
from river_agent.tools.perception.base import Region, SegmentedFrame
from river_agent.tools.perception.classical.categoriser import ShapeCategoriser
from river_agent.tools.perception.classical.shape import ShapeClassifier
from river_agent.twin.io import label_map, load_twin

Track = tuple[str, list[SegmentedFrame]]  # ground-truth kind, the object's frames as a segmenter would give them


def gt_tracks(suite: Path, limit: int | None) -> list[Track]:
    """Every ground-truth object of every case, as single-object segmented frames."""
    out: list[Track] = []
    for case in list_cases(suite)[:limit]:
        path = case.twin_path
        if path is None:
            continue
        twin = load_twin(path)
        per_obj: dict[int, list[SegmentedFrame]] = defaultdict(list)
        kind: dict[int, str] = {}
        for f in twin.frames:
            lm = label_map(twin, f.t)
            for inst in f.instances:
                kind[inst.id] = inst.category
                r = Region.from_crop(inst.id, lm == inst.id, 0, 0)
                if r is not None:
                    per_obj[inst.id].append(SegmentedFrame(t=f.t, frame=lm, label_map=lm, regions={inst.id: r}))
        out += [(kind[oid], frames) for oid, frames in per_obj.items()]
    return out


def leave_out(kind: str | None) -> ShapeClassifier:
    """The shipped classifier, or one built without ``kind``'s templates."""
    full = ShapeClassifier()
    if kind is None:
        return full
    from river_agent.tools.perception.classical.prototypes import build

    return ShapeClassifier({k: v for k, v in build().items() if k != kind})


def categorise(tracks: list[Track], classifier: ShapeClassifier) -> list[tuple[str, str, float]]:
    """(true kind, predicted label, confidence) per track."""
    rows = []
    for true, frames in tracks:
        cat = ShapeCategoriser(classifier=classifier)
        for seg in frames:
            cat.observe(seg)
        (oid,) = frames[0].regions
        rows.append((true, cat.categories().get(oid, "object"), cat.confidences().get(oid, 0.0)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("suite", type=Path, help="Case-format suite with ground-truth twins.")
    ap.add_argument("--limit", type=int, default=None, help="Only the first N cases.")
    args = ap.parse_args()
    tracks = gt_tracks(args.suite, args.limit)
    kinds = sorted({k for k, _ in tracks})
    table = Table(title=f"categoriser, leave one kind out ({len(tracks)} ground-truth tracks, {args.suite})")
    cols = ["left out", "n (that kind)", "said 'object'", "named another kind", "as what"]
    for col in (*cols, "known kinds: right", "known kinds: said 'object'"):
        table.add_column(col, justify="right")
    totals = defaultdict(int)
    for left in track([None, *kinds], description="leave one kind out"):
        rows = categorise(tracks, leave_out(left))
        unseen = [r for r in rows if r[0] == left]
        known = [r for r in rows if r[0] != left]
        wrong = defaultdict(int)
        for _, pred, _ in unseen:
            if pred != "object":
                wrong[pred] += 1
        right = sum(p == t for t, p, _ in known)
        generic = sum(p == "object" for _, p, _ in known)
        abstain = sum(p == "object" for _, p, _ in unseen)
        if left is not None:
            totals["unseen"] += len(unseen)
            totals["abstain"] += abstain
            totals["known"] += len(known)
            totals["right"] += right
        table.add_row(
            left or "(none: shipped)",
            str(len(unseen)) if left else "-",
            f"{abstain}" if left else "-",
            f"{len(unseen) - abstain}" if left else "-",
            ", ".join(f"{k} {v}" for k, v in sorted(wrong.items(), key=lambda kv: -kv[1])) or "-",
            f"{right}/{len(known)} ({right / max(len(known), 1):.3f})",
            f"{generic}",
        )
    Console(width=160).print(table)
    abstain, unseen, right, known = totals["abstain"], totals["unseen"], totals["right"], totals["known"]
    print(
        f"left-out kinds said 'object' for {abstain}/{unseen} tracks ({abstain / max(unseen, 1):.3f}); "
        f"known kinds right {right}/{known} ({right / max(known, 1):.3f})"
    )


if __name__ == "__main__":
    main()
