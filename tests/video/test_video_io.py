import cv2
import numpy as np
import pytest

from river_agent.errors import VideoError
from river_agent.video import VideoWriter, iter_frames, probe_video, read_frames, write_video


def _frames(n=6, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [np.roll(base, 2 * i, axis=1) for i in range(n)]


def test_lossless_round_trip_keeps_pixels_fps_and_size(tmp_path):
    frames = _frames()
    path = write_video(tmp_path / "v.mp4", frames, fps=12.5, quality="lossless")
    info = probe_video(path)
    assert (info.width, info.height, info.num_frames) == (64, 48, 6)
    assert info.fps == pytest.approx(12.5)
    assert np.array_equal(read_frames(path), np.stack(frames))


def test_high_quality_is_close(tmp_path):
    smooth = [np.full((48, 64, 3), (30 + 10 * i, 120, 200), np.uint8) for i in range(5)]
    path = write_video(tmp_path / "v.mp4", smooth, fps=24)
    out = read_frames(path).astype(int)
    assert np.abs(out - np.stack(smooth)).mean() < 3


def test_odd_sizes_are_written(tmp_path):
    frames = [np.full((33, 47, 3), 128, np.uint8)] * 3
    info = probe_video(write_video(tmp_path / "odd.mp4", frames, fps=24))
    assert (info.width, info.height, info.num_frames) == (47, 33, 3)


def test_frame_folder(tmp_path):
    frames = _frames(n=3)
    for i, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("ignored")
    info = probe_video(tmp_path)
    assert (info.num_frames, info.width, info.height) == (3, 64, 48)
    assert np.array_equal(read_frames(tmp_path), np.stack(frames))


def test_iteration_streams(tmp_path):
    path = write_video(tmp_path / "v.mp4", _frames(n=5), fps=24, quality="lossless")
    it = iter_frames(path)
    first = next(it)
    assert first.shape == (48, 64, 3)
    assert sum(1 for _ in it) == 4


def test_decoded_frames_own_their_pixels(tmp_path):
    # a kept frame must not pin the decoder's buffer (peak memory grew with video length when they did)
    path = write_video(tmp_path / "v.mp4", _frames(n=3), fps=24, quality="lossless")
    kept = list(iter_frames(path))
    assert all(f.base is None and f.flags.owndata and f.flags.writeable for f in kept)


def _text_renamed_mp4(p):
    (p / "text.mp4").write_text("this is not a video\n" * 20)
    return p / "text.mp4"


def _empty_file(p):
    (p / "empty.mp4").write_bytes(b"")
    return p / "empty.mp4"


def _empty_dir(p):
    (p / "frames").mkdir()
    return p / "frames"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_text_renamed_mp4, "not a readable video"),
        (_empty_file, "empty"),
        (lambda p: p / "missing.mp4", "no such file"),
        (_empty_dir, "no frame images"),
    ],
)
def test_bad_inputs_give_clear_errors(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(VideoError, match=message) as err:
        probe_video(path)
    assert str(path) in str(err.value)
    with pytest.raises(VideoError, match=message):
        list(iter_frames(path))


def test_truncated_video_is_reported(tmp_path):
    path = write_video(tmp_path / "v.mp4", _frames(n=20, h=96, w=128), fps=24, quality="lossless")
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError, match=str(cut)):
        probe_video(cut)


def test_unreadable_frame_in_folder(tmp_path):
    cv2.imwrite(str(tmp_path / "00000.png"), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "00001.png").write_text("broken")
    with pytest.raises(VideoError, match=r"00001\.png"):
        read_frames(tmp_path)


def test_writer_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.mp4"
    target.write_bytes(b"previous output")
    with pytest.raises(ValueError), VideoWriter(target, 24, 64, 48) as writer:
        writer.write(np.zeros((48, 64, 3), np.uint8))
        writer.write(np.zeros((10, 10, 3), np.uint8))  # wrong size
    assert target.read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_writing_no_frames_is_an_error(tmp_path):
    with pytest.raises(VideoError, match="no frames"):
        write_video(tmp_path / "x.mp4", [], fps=24)
    assert not (tmp_path / "x.mp4").exists()
