import json

from river_agent.twin import Remove, apply_ops
from river_agent.twin.synthetic import make_synthetic_twin
from river_agent.twin.view import approx_tokens, compact_view, frame_runs, motion_summary


def test_view_lists_every_object_with_its_frames(tmp_path):
    twin = make_synthetic_twin(tmp_path / "t", num_frames=12, num_objects=4, width=96, height=64)
    text = compact_view(twin)
    for obj_id in twin.object_ids():
        assert f"#{obj_id} " in text
    assert "motion:" in text and "color=" in text


def test_view_is_deterministic_and_fits_the_budget(tmp_path):
    twin = make_synthetic_twin(tmp_path / "t", num_frames=48, num_objects=6, width=832, height=480)
    full = compact_view(twin)
    assert compact_view(twin) == full
    for budget in (400, 250, 170):
        text = compact_view(twin, budget_tokens=budget)
        assert approx_tokens(text) <= budget
        assert text.count("\n#") == 6  # every object stays, keyframes shrink first
    assert approx_tokens(compact_view(twin)) < approx_tokens(json.dumps(twin.to_json_dict())) / 10


def test_view_shows_gaps(tmp_path):
    twin = make_synthetic_twin(tmp_path / "t", num_frames=10, num_objects=2)
    edited = apply_ops(twin, [Remove(id=1, frames=(3, 5))])
    assert "frames 0-2,6-9" in compact_view(edited)
    assert frame_runs([0, 1, 2, 5, 6, 9]) == [(0, 2), (5, 6), (9, 9)]


def test_motion_summary_words(tmp_path):
    twin = make_synthetic_twin(tmp_path / "t", num_frames=10, num_objects=1, seed=3)
    track = twin.track(1)
    assert motion_summary(track).startswith("moves")
    for _, inst in track:
        inst.spatial.x, inst.spatial.y = 10.0, 10.0
    assert motion_summary(track) == "static"
    assert motion_summary(track[:1]) == "seen once"


def test_compact_view_is_under_a_tenth_of_the_json_in_real_tokens(tmp_path):
    """Counted with the embedded model's tokenizer, as the foundation issue asks."""
    from river_agent.backends.transformers_backend import load_embedded_tokenizer

    tok = load_embedded_tokenizer()
    twin = make_synthetic_twin(tmp_path / "t", num_frames=48, num_objects=6, width=832, height=480)
    view_tokens = len(tok(compact_view(twin))["input_ids"])
    json_tokens = len(tok(json.dumps(twin.to_json_dict()))["input_ids"])
    assert view_tokens <= 0.10 * json_tokens
