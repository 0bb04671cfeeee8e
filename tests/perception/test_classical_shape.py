"""Shape descriptors, templates and the combined classifier of the classical categoriser."""

from __future__ import annotations

import numpy as np
import pytest

from river_agent.bench.shapes import KINDS, shape_size, silhouette
from river_agent.tools.perception.classical.shape import (
    TEMPLATE_SIZE,
    ShapeClassifier,
    descriptors,
    kind_shape,
    template,
)


def test_holes_inside_the_outline_do_not_change_the_shape():
    """A dotted car whose dark dots the background difference missed has the shape of the whole car."""
    w, h = shape_size("car", 40)
    car = silhouette("car", w, h, 1).astype(bool)
    dotted = car.copy()
    ys, xs = np.nonzero(car)
    inner = [(y, x) for y, x in zip(ys, xs, strict=True) if car[y - 3 : y + 4, x - 3 : x + 4].all()]
    for y, x in inner[::97]:
        dotted[y - 1 : y + 2, x - 1 : x + 2] = False
    assert dotted.sum() < 0.97 * car.sum()
    np.testing.assert_allclose(descriptors(dotted), descriptors(car), atol=1e-9)
    np.testing.assert_allclose(template(dotted), template(car), atol=1e-6)
    assert ShapeClassifier().classify(dotted)[0] == "car"


@pytest.mark.parametrize("height", [24, 45, 75, 110])
@pytest.mark.parametrize("facing", [1, -1])
def test_every_kind_is_recognised_at_sizes_and_facings_it_was_not_built_from(height, facing):
    clf = ShapeClassifier()
    for kind in KINDS:
        label, score = clf.classify(silhouette(kind, *shape_size(kind, height), facing).astype(bool))
        assert label == kind, (kind, height, facing, label)
        assert score < 0.3


def test_a_shape_unlike_any_kind_is_an_object():
    """A cross is none of the kinds the classifier knows; a thin ring is a ball (holes are filled)."""
    yy, xx = np.mgrid[:60, :60]
    r = np.hypot(yy - 29.5, xx - 29.5)
    cross = np.zeros((60, 60), bool)
    cross[26:34, :] = True
    cross[:, 26:34] = True
    assert ShapeClassifier().classify(cross)[0] == "object"
    assert ShapeClassifier().classify((r > 22) & (r < 30))[0] == "ball"  # holes are filled: a hoop is a disc


def test_examples_give_deduplicated_templates_and_the_mean_aspect():
    masks = [silhouette("box", *shape_size("box", h), 1).astype(bool) for h in (20, 40, 80)]
    ks = kind_shape(masks)
    assert len(ks.descriptors) == 3
    assert len(ks.templates) == 1  # three sizes of a square are one template
    assert abs(ks.log_aspect) < 0.05
    (t,) = ks.template_arrays()
    assert t.shape == (TEMPLATE_SIZE, TEMPLATE_SIZE) and t.max() <= 1.0


def test_tiny_or_empty_masks_have_no_shape():
    assert descriptors(np.zeros((10, 10), bool)) is None
    assert descriptors(np.ones((5, 5), bool)) is None
    assert template(np.ones((5, 5), bool)) is None
    assert ShapeClassifier().classify(np.ones((5, 5), bool)) == ("object", float("inf"))
    with pytest.raises(ValueError):
        kind_shape([np.ones((4, 4), bool)])


def _views(kind: str, heights=(40, 50, 60, 70)) -> list:
    """A track of one object: single-region frames of its silhouette at a few sizes, off the frame border."""
    from river_agent.tools.perception.base import Region, SegmentedFrame

    frames = []
    for t, h in enumerate(heights):
        m = silhouette(kind, *shape_size(kind, h), 1).astype(bool)
        canvas = np.zeros((200, 300), bool)
        canvas[20 : 20 + m.shape[0], 30 : 30 + m.shape[1]] = m
        r = Region.from_crop(1, canvas, 0, 0)
        frames.append(SegmentedFrame(t=t, frame=canvas, label_map=canvas.astype(np.uint16), regions={1: r}))
    return frames[::-1]  # largest first: every view is near the largest size


def test_a_kind_without_templates_is_called_object_with_a_low_confidence_and_a_guess():
    from river_agent.tools.perception.classical.categoriser import ShapeCategoriser

    heights = (14, 20, 28, 40, 60, 90)
    no_car = {k: [silhouette(k, *shape_size(k, h), f) for h in heights for f in (1, -1)] for k in KINDS}
    no_car.pop("car")
    clf = ShapeClassifier.from_examples(no_car)

    def categorise(kind: str, **kw) -> tuple[str, float, str]:
        cat = ShapeCategoriser(every=1, classifier=clf, **kw)
        for seg in _views(kind):
            cat.observe(seg)
        return cat.categories()[1], cat.confidences()[1], cat.guesses()[1]

    label, conf, guess = categorise("car")
    assert label == "object" and conf < 0.5 and guess == "truck"  # nearest known kind, kept as the guess
    assert categorise("car", min_confidence=0.0)[0] == "truck"  # the old behaviour: always name a kind
    label, conf, _ = categorise("truck")
    assert label == "truck" and conf > 0.9
    label, conf, _ = categorise("person")
    assert label == "person" and conf > 0.9


def test_the_confidence_threshold_is_a_perception_option():
    from river_agent.errors import RiverError
    from river_agent.tools.perception import get_perception

    assert get_perception("classical").categoriser.min_confidence == 0.5
    assert get_perception("classical", min_category_confidence=0.0).categoriser.min_confidence == 0.0
    with pytest.raises(RiverError, match="min_category_confidence"):
        get_perception("classical", min_category_confidence=1.5)
