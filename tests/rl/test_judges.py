"""Judges of R_perf: ground truth, twin verification on a generated case, and an MLLM behind a fake server."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from river_agent.errors import RiverError
from river_agent.rl.judges import (
    CaseInfo,
    GroundTruthJudge,
    Judge,
    MLLMJudge,
    TwinVerificationJudge,
    make_judge,
    parse_yes_no,
)
from river_agent.trace import Trace


def trace_with(ops: list[dict] | None, status: str = "ok", **kw) -> Trace:
    return Trace(query="q", ops=ops, status=status, valid=status == "ok", **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- CaseInfo
def test_case_info_coerce_and_resolve(tmp_path: Path) -> None:
    case = {"query": "Remove the dog.", "level": 2, "edit": {"op": "remove"}, "target_ids": [4], "video": "v.mp4"}
    case.update(twin="twin.json", expected_video="expected.mp4")
    (tmp_path / "case.json").write_text(json.dumps(case))
    info = CaseInfo.coerce({"query": "", "edit": '{"op": "move", "dx": 0.1}', "case_dir": str(tmp_path), "x": 1})
    assert info.edit == {"op": "move", "dx": 0.1} and info.video is None
    full = info.resolved()
    assert full.edit == {"op": "move", "dx": 0.1}  # given fields win
    assert full.query == "Remove the dog." and full.target_ids == [4] and full.level == 2
    assert full.video == str(tmp_path / "v.mp4") and full.twin == str(tmp_path / "twin.json")
    assert CaseInfo.coerce({"case_dir": "", "video": ""}).case_dir is None


# --------------------------------------------------------------------------------------------- ground truth
GT_CASE = CaseInfo(query="Paint the dog red.", target_ids=[2, 5], edit={"op": "recolor", "color": "red"})


def test_ground_truth_right_and_wrong() -> None:
    judge = GroundTruthJudge()
    right = trace_with([{"op": "recolor", "id": 5, "color": "blue"}, {"op": "recolor", "id": 2, "color": "blue"}])
    v = judge.judge(right, GT_CASE)
    assert (v.ok, v.score, v.judge) == (True, 1.0, "ground-truth")
    v = judge.judge(trace_with([{"op": "recolor", "id": 2, "color": "red"}]), GT_CASE)
    assert (v.ok, v.score) == (False, -1.0) and "[2]" in v.reason and "[2, 5]" in v.reason
    v = judge.judge(trace_with([{"op": "remove", "id": 2}, {"op": "remove", "id": 5}]), GT_CASE)
    assert not v.ok and "'recolor'" in v.reason
    v = judge.judge(trace_with(None, status="invalid", reason="bad edit op at 0.color"), GT_CASE)
    assert not v.ok and "bad edit op" in v.reason
    v = judge.judge(right, CaseInfo(query="q"))
    assert not v.ok and "no target ids" in v.reason


def test_ground_truth_strict_params() -> None:
    blue = trace_with([{"op": "recolor", "id": 2, "color": "blue"}, {"op": "recolor", "id": 5, "color": "Red"}])
    assert GroundTruthJudge().judge(blue, GT_CASE).ok
    v = GroundTruthJudge(strict_params=True).judge(blue, GT_CASE)
    assert not v.ok and "object 2" in v.reason and "object 5" not in v.reason
    move = CaseInfo(query="q", target_ids=[1], edit={"op": "move", "dx": 0.15, "dy": 0.0})
    strict = GroundTruthJudge(strict_params=True)
    assert strict.judge(trace_with([{"op": "move", "id": 1, "dx": 0.3, "dy": 0.0}]), move).ok
    assert not strict.judge(trace_with([{"op": "move", "id": 1, "dx": -0.1, "dy": 0.0}]), move).ok
    assert not strict.judge(trace_with([{"op": "move", "id": 1, "dx": 0.1, "dy": 0.1}]), move).ok
    grow = CaseInfo(query="q", target_ids=[1], edit={"op": "resize", "scale": 1.5})
    assert strict.judge(trace_with([{"op": "resize", "id": 1, "scale": 1.2}]), grow).ok
    assert not strict.judge(trace_with([{"op": "resize", "id": 1, "scale": 0.8}]), grow).ok


def test_ground_truth_reads_ops_from_a_whole_edited_twin(tmp_path: Path) -> None:
    from river_agent.twin.ops import apply_ops, parse_ops
    from river_agent.twin.synthetic import make_synthetic_twin

    twin = make_synthetic_twin(tmp_path / "twin", num_objects=3)
    after = apply_ops(twin, parse_ops([{"op": "remove", "id": 2}]))
    trace = trace_with(None, edited_twin=after.to_json_dict())
    case = CaseInfo(query="q", target_ids=[2], edit={"op": "remove"}, twin=str(tmp_path / "twin"))
    assert GroundTruthJudge().judge(trace, case).ok
    assert not GroundTruthJudge().judge(trace, case.model_copy(update={"target_ids": [3]})).ok


# --------------------------------------------------------------------------------------- twin verification
@pytest.fixture(scope="module")
def remove_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """A tiny RVE-Synth remove case and its oracle rendering (the renderer on the ground-truth masks)."""
    from river_agent.bench.cases import load_case
    from river_agent.bench.generate import GenConfig, case_plan, plan_case, write_case
    from river_agent.bench.systems import run_oracle

    cfg = GenConfig(n=2, width=256, height=144, frames=8)
    assert case_plan(1, cfg)[2] == "remove"
    out = tmp_path_factory.mktemp("suite")
    case_dir = write_case(plan_case(1, cfg), out)
    case = load_case(case_dir)
    run = run_oracle(case, out / "oracle.mp4")
    assert run.ok, run.error
    return case_dir, out / "oracle.mp4", json.loads((case_dir / "case.json").read_text())


@pytest.mark.slow
def test_twin_judge_on_a_generated_remove_case(remove_case: tuple[Path, Path, dict]) -> None:
    case_dir, oracle, data = remove_case
    ops = [{"op": "remove", "id": i} for i in data["target_ids"]]
    judge = TwinVerificationJudge()
    right = judge.judge(trace_with(ops), CaseInfo.from_case_dir(case_dir, edited_video=str(oracle)))
    assert (right.ok, right.score, right.judge) == (True, 1.0, "twin"), right.reason
    # the unedited source as the "edited" video: the removed object is still there
    src = judge.judge(trace_with(ops), CaseInfo.from_case_dir(case_dir, edited_video=str(case_dir / "video.mp4")))
    assert (src.ok, src.score) == (False, -1.0)
    assert f"object {data['target_ids'][0]} removed in 0/" in src.reason
    # D' removes another object than the video did: that one is still there and the real target is gone
    other = next(i for i in range(1, 10) if i not in data["target_ids"])
    wrong = judge.judge(
        trace_with([{"op": "remove", "id": other}]), CaseInfo.from_case_dir(case_dir, edited_video=str(oracle))
    )
    assert not wrong.ok and f"object {other} removed" in wrong.reason and "kept" in wrong.reason
    # no edited video: the judge renders D -> D' itself
    rendered = judge.judge(trace_with(ops), CaseInfo.from_case_dir(case_dir))
    assert rendered.ok, rendered.reason
    assert (
        not TwinVerificationJudge(render_missing=False).judge(trace_with(ops), CaseInfo(case_dir=str(case_dir))).ok
    )
    assert "not valid" in judge.judge(trace_with(None, status="invalid"), CaseInfo(case_dir=str(case_dir))).reason


# -------------------------------------------------------------------------------------------------- MLLM
class FakeVLM:
    """An OpenAI-compatible /v1/chat/completions that answers ``reply`` (a test double on 127.0.0.1)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.reply = '{"verdict": "yes", "reason": "the dog is gone"}'
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, **body})
                payload = {
                    "id": "x",
                    "object": "chat.completion",
                    "created": 1,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": fake.reply},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def vlm() -> Iterator[FakeVLM]:
    s = FakeVLM()
    yield s
    s.close()


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    from river_agent.video.io import write_video

    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (72, 128, 3), np.uint8) for _ in range(6)]
    src = write_video(root / "src.mp4", frames, fps=8)
    out = write_video(root / "out.mp4", [f[:, ::-1].copy() for f in frames], fps=8)
    return str(src), str(out)


QUERY = "Remove the red dog."


def test_mllm_judge_yes_and_request(vlm: FakeVLM, videos: tuple[str, str]) -> None:
    judge = MLLMJudge(model="openai/qwen2.5-vl-7b", api_base=vlm.url, frames=3, max_side=64)
    case = CaseInfo(query=QUERY, video=videos[0], edited_video=videos[1])
    v = judge.judge(trace_with([{"op": "remove", "id": 1}]), case)
    assert (v.ok, v.score, v.judge) == (True, 1.0, "mllm"), v.reason
    req = vlm.requests[-1]
    assert req["path"] == "/v1/chat/completions" and req["model"] == "qwen2.5-vl-7b"
    parts = req["messages"][-1]["content"]
    images = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(images) == 6 and all(u.startswith("data:image/jpeg;base64,") for u in images)
    assert any(QUERY in p.get("text", "") for p in parts)
    assert "yes" in req["messages"][0]["content"]  # the rubric asks for a yes/no verdict
    vlm.reply = "No. The dog is still visible in the edited frames."
    assert judge.judge(trace_with([{"op": "remove", "id": 1}]), case).score == -1.0


def test_mllm_judge_unparseable_and_invalid(vlm: FakeVLM, videos: tuple[str, str]) -> None:
    judge = MLLMJudge(api_base=vlm.url, max_side=64)
    case = CaseInfo(query=QUERY, video=videos[0], edited_video=videos[1])
    vlm.reply = "I cannot tell."
    v = judge.judge(trace_with([{"op": "remove", "id": 1}]), case)
    assert (v.ok, v.score) == (False, -1.0) and "unparseable" in v.reason
    n = len(vlm.requests)
    v = judge.judge(trace_with(None, status="invalid"), case)
    assert not v.ok and len(vlm.requests) == n  # an invalid D' is not sent to the model


def test_mllm_judge_server_down(videos: tuple[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    judge = MLLMJudge(api_base=f"http://127.0.0.1:{port}/v1", timeout=5, max_side=64)
    t0 = time.perf_counter()
    v = judge.judge(
        trace_with([{"op": "remove", "id": 1}]), CaseInfo(query=QUERY, video=videos[0], edited_video=videos[1])
    )
    assert (v.ok, v.score) == (False, -1.0)
    assert "backend failed" in v.reason and "Connection" in v.reason
    assert time.perf_counter() - t0 < 10


def test_mllm_judge_without_videos() -> None:
    v = MLLMJudge(render_missing=False).judge(trace_with([{"op": "remove", "id": 1}]), CaseInfo(query=QUERY))
    assert not v.ok and "no source video" in v.reason


@pytest.mark.parametrize(
    ("reply", "want"),
    [
        ('{"verdict": "yes", "reason": "ok"}', True),
        ('```json\n{"verdict": "no"}\n```', False),
        ('<think>maybe yes</think>{"answer": "no"}', False),
        ("Yes, the car is now blue.", True),
        ("no", False),
        ('{"ok": true}', True),
        ("I am not sure.", None),
        ("", None),
    ],
)
def test_parse_yes_no(reply: str, want: bool | None) -> None:
    assert parse_yes_no(reply) is want


# ------------------------------------------------------------------------------------------------- factory
def test_make_judge() -> None:
    assert isinstance(make_judge("ground-truth"), GroundTruthJudge)
    assert make_judge("ground_truth", strict_params=True).strict_params is True
    assert isinstance(make_judge("twin", quorum=0.8), TwinVerificationJudge)
    mllm = make_judge("mllm", model="hosted_vllm/qwen", api_base="http://x/v1")
    assert isinstance(mllm, MLLMJudge) and mllm.model == "hosted_vllm/qwen"
    assert all(isinstance(make_judge(n), Judge) for n in ("ground-truth", "twin", "mllm"))
    with pytest.raises(RiverError, match="unknown judge"):
        make_judge("oracle")
    with pytest.raises(RiverError, match="bad option"):
        make_judge("twin", colour="red")
