from __future__ import annotations

import os

import numpy as np
import pytest

from river_agent.video import frame_cache
from river_agent.video.frame_cache import FRAMES
from river_agent.video.io import iter_frames, probe_video, read_frames, write_video


def _frames(n: int = 6, h: int = 48, w: int = 64, level: int = 0) -> list[np.ndarray]:
    return [np.full((h, w, 3), (level + 10 * i) % 256, np.uint8) for i in range(n)]


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch):
    monkeypatch.delenv("RIVER_FRAME_CACHE_MB", raising=False)
    FRAMES.clear()
    yield
    FRAMES.clear()


def test_a_second_read_comes_from_the_cache_and_matches(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v.mp4", _frames(), fps=24, quality="lossless")
    first = read_frames(path)
    decoded = []
    real_open = __import__("river_agent.video.io", fromlist=["_open"])._open

    def counting_open(p):
        decoded.append(p)
        return real_open(p)

    monkeypatch.setattr("river_agent.video.io._open", counting_open)
    again = read_frames(path)
    assert decoded == []  # no decode the second time
    np.testing.assert_array_equal(first, again)


def test_callers_may_draw_on_frames_without_touching_the_cache(tmp_path):
    path = write_video(tmp_path / "v.mp4", _frames(), fps=24, quality="lossless")
    list(iter_frames(path))
    frame = next(iter(iter_frames(path)))
    frame[:] = 255
    assert next(iter(iter_frames(path))).max() < 255


def test_a_rewritten_file_is_decoded_again(tmp_path):
    path = write_video(tmp_path / "v.mp4", _frames(level=0), fps=24, quality="lossless")
    assert read_frames(path)[0].max() == 0
    write_video(path, _frames(n=4, level=100), fps=24, quality="lossless")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    assert read_frames(path)[0].min() == 100
    assert probe_video(path).num_frames == 4


def test_partial_reads_and_over_budget_videos_are_not_kept(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v.mp4", _frames(), fps=24, quality="lossless")
    frames = iter_frames(path)
    next(frames)
    frames.close()  # a reader that stopped early
    assert FRAMES.get(frame_cache.cache_key(path)) is None
    monkeypatch.setenv("RIVER_FRAME_CACHE_MB", "0.01")  # 10 kB: one 48x64 frame is 9 kB
    list(iter_frames(path))
    assert FRAMES.get(frame_cache.cache_key(path)) is None
    monkeypatch.setenv("RIVER_FRAME_CACHE_MB", "1")
    list(iter_frames(path))
    assert len(FRAMES.get(frame_cache.cache_key(path))) == 6


def test_least_recently_used_video_leaves_first(tmp_path, monkeypatch):
    monkeypatch.setenv("RIVER_FRAME_CACHE_MB", str(6 * 48 * 64 * 3 * 1.5 / 2**20))  # room for 1.5 videos
    a = write_video(tmp_path / "a.mp4", _frames(), fps=24, quality="lossless")
    b = write_video(tmp_path / "b.mp4", _frames(), fps=24, quality="lossless")
    read_frames(a)
    read_frames(b)
    assert FRAMES.get(frame_cache.cache_key(a)) is None
    assert FRAMES.get(frame_cache.cache_key(b)) is not None


def test_probing_counts_frames_and_fills_the_cache_only_with_a_video_it_keeps(tmp_path, monkeypatch):
    path = write_video(tmp_path / "v.mp4", _frames(), fps=24, quality="lossless")
    monkeypatch.setenv("RIVER_FRAME_CACHE_MB", "0.01")  # too small for the video: counted, not kept
    assert probe_video(path).num_frames == 6
    assert FRAMES.get(frame_cache.cache_key(path)) is None
    monkeypatch.setenv("RIVER_FRAME_CACHE_MB", "1")
    assert probe_video(path).num_frames == 6
    assert len(FRAMES.get(frame_cache.cache_key(path))) == 6  # the edit's next read is free
