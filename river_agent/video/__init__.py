"""Video I/O: reading mp4/mov/avi/webm files and frame folders, writing mp4 atomically."""

from river_agent.video.io import (
    VideoInfo,
    VideoWriter,
    iter_frames,
    probe_video,
    read_frames,
    write_video,
)

__all__ = ["VideoInfo", "VideoWriter", "iter_frames", "probe_video", "read_frames", "write_video"]
