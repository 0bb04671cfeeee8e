"""Classical categoriser: the shape classifier on unoccluded views, voted over each track, with a confidence.

The shape templates know only the kinds they were built from. A thing of another kind still lands nearest to
*some* kind (a cyclist to ``person``, a bus to ``truck``), but its outline fits that kind's templates clearly
worse than the kind's own members do. So besides the vote each track gets a confidence from how well its
best-fitting winning views fit (a low percentile of the template misses of the views that voted for the
winner: an object occluded in most frames still shows its outline in some), and a track below
``min_confidence`` is called ``object``: the categoriser says it cannot tell rather than name a wrong kind.
Below 20 px a side coarse outlines of known kinds fit as badly as unknown ones, so small tracks get a wider
band and at most ``small_cap``: named, but not sure.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from river_agent.tools.perception.base import SegmentedFrame
from river_agent.tools.perception.classical.shape import ShapeClassifier

GENERIC = "object"


@dataclass
class FitConfidence:
    """Confidence from the template miss m of a track's winning views (their ``percentile``-th percentile): 1 at
    m <= ``sure_miss``, falling linearly to 0 at m >= ``unsure_miss``. Chosen on ground-truth tracks of a flat
    RVE-Synth suite with each kind left out of the templates in turn (``scripts/bench_categoriser.py``)."""

    sure_miss: float = field(default=0.10, metadata={"help": "template miss at or below which the fit is sure."})
    unsure_miss: float = field(default=0.25, metadata={"help": "template miss at which confidence is 0."})
    percentile: float = field(default=10.0, metadata={"help": "which of the winning views' misses counts."})
    small_side: int = field(
        default=20, metadata={"help": "px: tracks whose views are never this wide and tall count as small."}
    )
    small_slack: float = field(
        default=0.20, metadata={"help": "added to both misses for small tracks (coarse outlines fit worse)."}
    )
    small_cap: float = field(
        default=0.6, metadata={"help": "most confidence a small track gets (its outline rules out little)."}
    )

    def __call__(self, misses: list[float], side: int = 10**6) -> float:
        """``misses`` of the winning views; ``side`` the largest min(width, height) among them (px)."""
        m = float(np.percentile(misses, self.percentile)) if misses else 1.0
        small = side < self.small_side
        slack = self.small_slack if small else 0.0
        span = max(self.unsure_miss - self.sure_miss, 1e-6)
        conf = float(np.clip((self.unsure_miss + slack - m) / span, 0.0, 1.0))
        return min(conf, self.small_cap) if small else conf


class ShapeCategoriser:
    """Votes per track over frames where the object looks whole (near its largest size, not at the border)."""

    name = "classical"

    def __init__(
        self,
        every: int = 2,
        classifier: ShapeClassifier | None = None,
        score_weight: float = 4.0,
        min_confidence: float = 0.5,
        fit: FitConfidence | None = None,
    ) -> None:
        self.every = every
        self.score_weight = score_weight  # a view's vote is its size / (1 + score_weight * its shape score)
        self.min_confidence = min_confidence  # below it a track is called GENERIC (0: always name the best kind)
        self.fit = fit or FitConfidence()
        self.classifier = classifier or ShapeClassifier()
        self.max_size: dict[int, int] = defaultdict(int)
        self.votes: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self.misses: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.side: dict[int, int] = defaultdict(int)  # largest min(width, height) of a voting view

    def observe(self, seg: SegmentedFrame) -> None:
        h, w = seg.label_map.shape
        for oid, r in seg.regions.items():
            self.max_size[oid] = max(self.max_size[oid], r.size)
            if seg.t % self.every and len(self.votes[oid]) > 0:
                continue
            x0, y0, x1, y1 = r.bbox
            if x0 <= 0 or y0 <= 0 or x1 >= w or y1 >= h or r.size < 0.85 * self.max_size[oid]:
                continue
            label, score, miss = self.classifier.classify_with_miss(r.crop)
            if score == float("inf"):
                continue
            self.votes[oid][label] += r.size / (1.0 + self.score_weight * score)
            self.misses[oid][label].append(miss)
            self.side[oid] = max(self.side[oid], min(x1 - x0, y1 - y0))

    def _best(self, oid: int) -> tuple[str, float]:
        """The winning label of a track and its confidence (how well the winning views fit that kind). The vote
        share is left out on purpose: a track split between two kinds whose best views fit one of them closely is
        that kind (on the flat seed-11 suite, multiplying by the share turned 3 more right tracks generic)."""
        v = self.votes[oid]
        label = max(v, key=v.get)
        if label == GENERIC:
            return label, 0.0
        return label, self.fit(self.misses[oid][label], self.side[oid])

    def categories(self) -> dict[int, str]:
        out = {}
        for oid, v in self.votes.items():
            if v:
                label, conf = self._best(oid)
                out[oid] = label if conf >= self.min_confidence else GENERIC
        return out

    def guesses(self) -> dict[int, str]:
        """Per track, the best named kind even where the category is 'object' (kept as ``category_guess``)."""
        return {oid: self._best(oid)[0] for oid, v in self.votes.items() if v}

    def confidences(self) -> dict[int, float]:
        """Per track, the confidence of its best named kind in [0, 1] (0 when the vote itself was 'object'):
        kept in the twin as ``category_confidence`` and under ``min_confidence`` the category is 'object'."""
        return {oid: round(self._best(oid)[1], 3) for oid, v in self.votes.items() if v}
