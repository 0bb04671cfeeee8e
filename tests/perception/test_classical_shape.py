"""Shape descriptors and the prototype classifier of the classical categoriser."""

from __future__ import annotations

import numpy as np

from river_agent.bench.shapes import shape_size, silhouette
from river_agent.tools.perception.classical.shape import ShapeClassifier, descriptors


def test_holes_inside_the_outline_do_not_change_the_shape():
    """A dotted car whose dark dots the background difference missed has the descriptors of the whole car."""
    w, h = shape_size("car", 40)
    car = silhouette("car", w, h, 1).astype(bool)
    dotted = car.copy()
    ys, xs = np.nonzero(car)
    inner = [(y, x) for y, x in zip(ys, xs, strict=True) if car[y - 3 : y + 4, x - 3 : x + 4].all()]
    for y, x in inner[::97]:
        dotted[y - 1 : y + 2, x - 1 : x + 2] = False
    assert dotted.sum() < 0.97 * car.sum()
    np.testing.assert_allclose(descriptors(dotted), descriptors(car), atol=1e-9)
    assert ShapeClassifier().classify(descriptors(dotted))[0] == "car"


def test_every_kind_is_its_own_nearest_prototype():
    clf = ShapeClassifier()
    for kind in ("car", "truck", "person", "dog", "ball", "tree", "box"):
        w, h = shape_size(kind, 60)
        assert clf.classify(descriptors(silhouette(kind, w, h, -1)))[0] == kind


def test_tiny_or_empty_masks_have_no_descriptors():
    assert descriptors(np.zeros((10, 10), bool)) is None
    assert descriptors(np.ones((5, 5), bool)) is None
