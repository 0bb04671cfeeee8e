"""The ground-truth digital twin of a rendered scene (format river-twin/1), straight from the label maps."""

from __future__ import annotations

import numpy as np

from river_agent.bench.scene import Scene, SceneObject
from river_agent.twin.masks import mask_filename, region_stats
from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta


def normalized_depths(scene: Scene) -> dict[int, float]:
    """Object depth rescaled to [0, 1] over the video (0 = nearest object, 1 = farthest)."""
    zs = [o.depth for o in scene.objects]
    if not zs:
        return {}
    lo, hi = min(zs), max(zs)
    span = hi - lo
    return {o.id: round((o.depth - lo) / span, 4) if span > 1e-9 else 0.5 for o in scene.objects}


def describe(o: SceneObject) -> str:
    pat = "" if o.pattern == "plain" else f" {o.pattern}"
    return f"a {o.size} {o.color}{pat} {o.kind}"


def frame_record(scene: Scene, t: int, labels: np.ndarray, depths: dict[int, float]) -> Frame:
    """The twin's record of frame ``t`` from its label map."""
    stats = region_stats(labels)
    instances = []
    for obj_id in sorted(stats):
        o = scene.obj(obj_id)
        st = stats[obj_id]
        instances.append(
            Instance(
                id=obj_id,
                category=o.kind,
                attributes={"color": o.color, "size": o.size, "pattern": o.pattern, "description": describe(o)},
                mask=f"{mask_filename(t)}#{obj_id}",
                spatial=Spatial(
                    x=round(st.x, 2), y=round(st.y, 2), depth=depths[obj_id], size=st.size, bbox=list(st.bbox)
                ),
            )
        )
    return Frame(t=t, mask=mask_filename(t), instances=instances)


def build_twin(scene: Scene, label_maps: list[np.ndarray], video_path: str = "video.mp4") -> Twin:
    """A Twin for ``scene`` given its per-frame label maps."""
    depths = normalized_depths(scene)
    frames = [frame_record(scene, t, lm, depths) for t, lm in enumerate(label_maps)]
    meta = VideoMeta(
        path=video_path, fps=scene.fps, width=scene.width, height=scene.height, num_frames=scene.num_frames
    )
    return Twin(video=meta, frames=frames)
