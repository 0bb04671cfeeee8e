"""Classical categoriser: the shape classifier on unoccluded views, voted over each track."""

from __future__ import annotations

from collections import defaultdict

from river_agent.tools.perception.base import SegmentedFrame
from river_agent.tools.perception.classical.shape import ShapeClassifier


class ShapeCategoriser:
    """Votes per track over frames where the object looks whole (near its largest size, not at the border)."""

    name = "classical"

    def __init__(
        self, every: int = 2, classifier: ShapeClassifier | None = None, score_weight: float = 4.0
    ) -> None:
        self.every = every
        self.score_weight = score_weight  # a view's vote is its size / (1 + score_weight * its shape score)
        self.classifier = classifier or ShapeClassifier()
        self.max_size: dict[int, int] = defaultdict(int)
        self.votes: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def observe(self, seg: SegmentedFrame) -> None:
        h, w = seg.label_map.shape
        for oid, r in seg.regions.items():
            self.max_size[oid] = max(self.max_size[oid], r.size)
            if seg.t % self.every and len(self.votes[oid]) > 0:
                continue
            x0, y0, x1, y1 = r.bbox
            if x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h or r.size < 0.85 * self.max_size[oid]:
                continue
            label, score = self.classifier.classify(r.crop)
            if score == float("inf"):
                continue
            self.votes[oid][label] += r.size / (1.0 + self.score_weight * score)

    def categories(self) -> dict[int, str]:
        return {oid: max(v, key=v.get) for oid, v in self.votes.items() if v}
