"""The classical perception backend on a drawn scene with occlusion, exit/re-entry and a standing object."""

from __future__ import annotations

import numpy as np
import pytest

from river_agent.errors import RiverError, VideoError
from river_agent.tools.perception import Perception, get_perception
from river_agent.tools.perception.classical.categoriser import ShapeCategoriser
from river_agent.tools.perception.classical.depth import PositionOcclusionDepth
from river_agent.tools.perception.classical.segmenter import ClassicalSegmenter
from river_agent.tools.perception.classical.shape import ShapeClassifier
from river_agent.tools.perception.describe import TemplateDescriber
from river_agent.tools.perception.evaluate import evaluate_dirs
from river_agent.twin.io import instance_mask, load_twin
from tests.perception.synth_scenes import make_scene, scene_examples, write_gt_twin


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("scene")
    gts, cats = make_scene(root / "video.mp4")
    write_gt_twin(root / "gt", gts, cats, root / "video.mp4")
    perception = Perception(
        ClassicalSegmenter(),
        ShapeCategoriser(classifier=ShapeClassifier.from_examples(scene_examples())),
        PositionOcclusionDepth(),
        TemplateDescriber(),
    )
    twin = perception.run(root / "video.mp4", root / "pred", progress=False)
    return root, twin, gts


def test_twin_is_written_and_valid(scene):
    root, _, gts = scene
    loaded = load_twin(root / "pred")
    assert len(loaded.frames) == len(gts) == loaded.video.num_frames
    for frame in loaded.frames:
        for inst in frame.instances:
            m = instance_mask(loaded, frame.t, inst.id)
            assert m.sum() == inst.spatial.size
            assert 0.0 <= inst.spatial.depth <= 1.0
            assert set(inst.attributes) >= {"color", "size", "pattern", "description"}


def test_scores_against_ground_truth(scene):
    root, _, _ = scene
    s = evaluate_dirs(root / "pred", root / "gt")
    assert s.pred_objects == s.gt_objects == 4  # the box that leaves and re-enters keeps its id
    assert s.mask_iou > 0.85
    assert s.idf1 > 0.9
    assert s.category_accuracy == 1.0
    assert s.centroid_error_px < 3.0
    assert s.depth_order_accuracy > 0.8


def test_colours_named(scene):
    root, twin, _ = scene
    s = evaluate_dirs(root / "pred", root / "gt")
    colors = {s.id_map[i]: twin.track(i)[0][1].attributes["color"] for i in twin.object_ids()}
    assert colors == {1: "red", 2: "blue", 3: "yellow", 4: "green"}


def test_object_iou_scores_each_ground_truth_object(scene, tmp_path):
    root, _, gts = scene
    from tests.perception.synth_scenes import write_gt_twin as write

    without_3 = [np.where(lm == 3, 0, lm).astype(np.uint16) for lm in gts]
    write(tmp_path / "drop", without_3, {1: "ball", 2: "ball", 4: "tree"}, root / "video.mp4")
    s = evaluate_dirs(tmp_path / "drop", root / "gt")
    assert set(s.object_iou) == {1, 2, 3, 4}
    assert s.object_iou[3] == 0.0
    assert all(s.object_iou[g] == pytest.approx(1.0) for g in (1, 2, 4))
    assert s.mask_iou < 1.0


def test_evaluate_penalises_a_wrong_twin(scene, tmp_path):
    root, _, gts = scene
    from tests.perception.synth_scenes import write_gt_twin as write

    shuffled = [np.where(lm == 1, 2, np.where(lm == 2, 1, lm)).astype(np.uint16) for lm in gts]
    shuffled = shuffled[:12] + [np.roll(lm, 15, axis=1) for lm in gts[12:]]
    write(tmp_path / "bad", shuffled, {1: "ball", 2: "ball", 3: "box", 4: "tree"}, root / "video.mp4")
    s = evaluate_dirs(tmp_path / "bad", root / "gt")
    assert s.mask_iou < 0.8 and s.idf1 < 0.8 and s.category_accuracy < 1.0


def test_bad_inputs(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoError):
        get_perception("classical").run(empty, tmp_path / "out", progress=False)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoError):
        get_perception().run(junk, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    with pytest.raises(RiverError, match="unknown perception"):
        get_perception("nope")
    with pytest.raises(RiverError, match="sam2-checkpoint"):
        get_perception("classical", segmenter="sam2")


def test_instances_carry_the_category_confidence(scene):
    _, twin, _ = scene
    for frame in twin.frames:
        for inst in frame.instances:
            conf = inst.model_extra["category_confidence"]
            assert 0.0 <= conf <= 1.0
            if "category_guess" in inst.model_extra:  # a guess is kept only where the category went generic
                assert inst.category == "object" and conf < 0.5
            elif inst.category != "object":
                assert conf >= 0.5
    confs = [i.model_extra["category_confidence"] for f in twin.frames for i in f.instances]
    assert min(confs) > 0.5  # every drawn object is of a kind the scene's classifier knows
