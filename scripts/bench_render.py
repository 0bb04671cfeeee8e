"""Benchmark the renderers: fidelity and preservation per edit op (PSNR/SSIM inside/outside the mask vs the
expected video), speed (frames/s at 832x480) and memory against video length.

    python scripts/bench_render.py                       # built-in synthetic scenes (static and panning camera)
    python scripts/bench_render.py --suite SUITE_DIR     # any case-format suite (case.json, video.mp4, ...)
    python scripts/bench_render.py --memory              # peak RSS for 48 vs 240 frames (each in a subprocess)

Metrics follow docs/case-format.md: the reference region is where the expected video differs
from the source (max channel difference > 24/255 after a 3x3 opening) united with the target mask; "in" is
that region dilated by 7 px (output vs expected), "out" is everything else (output vs source). PSNR pools the
squared error over all frames; SSIM is the mean of the SSIM map over the region.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np
from rich.console import Console
from rich.table import Table
from skimage.metrics import structural_similarity

from river_agent.tools.render import RenderUnsupportedError, get_renderer
from river_agent.tools.render.mask_source import TargetMasks
from river_agent.video.io import iter_frames, probe_video, write_video

W, H = 832, 480
console = Console(width=150)


# -- a synthetic scene: textured background in world coordinates, objects = base_rgb * shading(u, v) ----------
@dataclass
class SceneObj:
    rgb: tuple[int, int, int]
    pos: tuple[float, float]
    vel: tuple[float, float]
    radii: tuple[float, float]
    shape: str  # ellipse | rect
    seed: int


def _texture(seed: int, size: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 3)
    return tex / (tex.std() + 1e-6)


class Scene:
    def __init__(self, seed: int, pan: tuple[float, float] = (0, 0), n: int = 48) -> None:
        rng = np.random.default_rng(seed)
        self.n, self.pan = n, pan
        self.bg_world = self._background(rng)
        self.objs = []
        for i in range(3):  # one object per horizontal band: paths do not cross (nothing hides behind another)
            band = (i + 0.5) * H / 3
            self.objs.append(
                SceneObj(
                    rgb=tuple(int(c) for c in rng.integers(40, 230, 3)),
                    pos=(float(rng.uniform(150, W - 150)), float(band + rng.uniform(-10, 10))),
                    vel=(float(rng.uniform(-3, 3)), float(rng.uniform(-0.4, 0.4))),
                    radii=(float(rng.uniform(35, 70)), float(rng.uniform(30, 50))),
                    shape="ellipse" if i % 2 == 0 else "rect",
                    seed=seed * 10 + i,
                )
            )
        self.tex = {o.seed: _texture(o.seed) for o in self.objs}

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        bw, bh = W + 400, H + 200
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        base = np.stack([90 + 40 * np.sin(xx / 37 + c) + 30 * np.cos(yy / 23 - c) for c in (0.0, 1.3, 2.1)], 2)
        noise = cv2.GaussianBlur(rng.normal(0, 12, (bh, bw, 3)).astype(np.float32), (0, 0), 1.5)
        return np.clip(base + noise + 40, 0, 255).astype(np.uint8)

    def _camera(self, t: int) -> tuple[int, int]:
        return round(self.pan[0] * t), round(self.pan[1] * t)

    def draw(self, t: int, edit: dict | None = None, target: int = 2) -> tuple[np.ndarray, np.ndarray]:
        cx, cy = self._camera(t)
        frame = self.bg_world[cy : cy + H, cx : cx + W].copy()
        label = np.zeros((H, W), np.uint8)
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        for i, o in enumerate(self.objs):
            rgb, scale = np.asarray(o.rgb, np.float32), 1.0
            px, py = o.pos[0] + o.vel[0] * t, o.pos[1] + o.vel[1] * t
            if edit is not None and i == target:
                op = edit["op"]
                if op == "remove":
                    continue
                if op == "recolor":
                    rgb = np.asarray(edit["rgb"], np.float32)
                if op == "move":
                    px, py = px + round(edit["dx"] * W), py + round(edit["dy"] * H)
                if op == "resize":
                    scale = edit["scale"]
            u, v = (xx - px) / scale, (yy - py) / scale
            rx, ry = o.radii
            m = (
                (u / rx) ** 2 + (v / ry) ** 2 <= 1
                if o.shape == "ellipse"
                else (np.abs(u) <= rx) & (np.abs(v) <= ry)
            )
            ys, xs = np.nonzero(m)
            tex = self.tex[o.seed]
            ti = np.clip((v[ys, xs] + 128).astype(int), 0, 255), np.clip((u[ys, xs] + 128).astype(int), 0, 255)
            shade = 1.0 + 0.12 * np.sin(u[ys, xs] / 9) * np.cos(v[ys, xs] / 7) + 0.08 * tex[ti]
            frame[ys, xs] = np.clip(np.rint(rgb[None] * shade[:, None]), 0, 255).astype(np.uint8)
            label[ys, xs] = i + 1
        return frame, label


EDITS = {
    "recolor": {"op": "recolor", "color": "blue", "rgb": [40, 80, 210]},
    "remove": {"op": "remove"},
    "move": {"op": "move", "dx": 0.12, "dy": -0.08},
    "resize": {"op": "resize", "scale": 1.3},
    "restyle": {"op": "restyle", "style": "striped"},
    "replace": {"op": "replace", "category": "dog"},
}
NO_TRUTH = ("restyle", "replace")


def make_case(root: Path, name: str, seed: int, pan: tuple[float, float], op: str, n: int) -> Path:
    """Write one case folder in the shared case format."""
    case = root / name
    (case / "target_masks").mkdir(parents=True, exist_ok=True)
    scene = Scene(seed, pan, n)
    edit = EDITS[op]
    src, exp = [], []
    for t in range(n):
        f, lab = scene.draw(t)
        src.append(f)
        cv2.imwrite(str(case / "target_masks" / f"{t:05d}.png"), (lab == 3).astype(np.uint8) * 255)
        if op not in NO_TRUTH:
            exp.append(scene.draw(t, edit, target=2)[0])
    write_video(case / "video.mp4", src, 24.0, quality="lossless")
    meta = {"format": "rve-case/1", "id": name, "video": "video.mp4", "target_masks": "target_masks", "edit": edit}
    if exp:
        write_video(case / "expected.mp4", exp, 24.0, quality="lossless")
        meta["expected_video"] = "expected.mp4"
    (case / "case.json").write_text(json.dumps(meta, indent=1))
    return case


# -- metrics ----------------------------------------------------------------------------------------------------
def _psnr(sq: float, count: int) -> float:
    if count == 0:
        return float("nan")
    mse = sq / count
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


class RegionStats:
    def __init__(self) -> None:
        self.sq = {"in": 0.0, "out": 0.0}
        self.n = {"in": 0, "out": 0}
        self.ssim: dict[str, list[float]] = {"in": [], "out": []}

    def add(self, key: str, a: np.ndarray, b: np.ndarray, region: np.ndarray, ssim_map: np.ndarray) -> None:
        if not region.any():
            return
        d = a[region].astype(np.float64) - b[region]
        self.sq[key] += float((d**2).sum())
        self.n[key] += int(d.size)
        self.ssim[key].append(float(ssim_map[region].mean()))

    def result(self) -> dict[str, float]:
        out = {}
        for k in ("in", "out"):
            out[f"psnr_{k}"] = _psnr(self.sq[k], self.n[k])
            out[f"ssim_{k}"] = float(np.mean(self.ssim[k])) if self.ssim[k] else float("nan")
        return out


def _ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    _, smap = structural_similarity(ga, gb, data_range=255, full=True)
    return smap


def evaluate(case: Path, output: Path, with_ssim: bool = True) -> dict[str, float]:
    meta = json.loads((case / "case.json").read_text())
    info = probe_video(case / meta["video"])
    masks = TargetMasks(case / meta["target_masks"], info.width, info.height)
    exp_iter = iter_frames(case / meta["expected_video"]) if meta.get("expected_video") else None
    stats = RegionStats()
    k7 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    k3 = np.ones((3, 3), np.uint8)
    for t, (src, out) in enumerate(zip(iter_frames(case / meta["video"]), iter_frames(output), strict=True)):
        exp = next(exp_iter) if exp_iter is not None else None
        ref = masks.mask(t, 1).copy()
        if exp is not None:
            diff = (np.abs(exp.astype(np.int16) - src).max(axis=2) > 24).astype(np.uint8)
            ref |= cv2.morphologyEx(diff, cv2.MORPH_OPEN, k3).astype(bool)
        inside = cv2.dilate(ref.astype(np.uint8), k7).astype(bool)
        smap_src = _ssim_map(out, src) if with_ssim else np.zeros(inside.shape)
        stats.add("out", out, src, ~inside, smap_src)
        if exp is not None:
            smap_exp = _ssim_map(out, exp) if with_ssim else np.zeros(inside.shape)
            stats.add("in", out, exp, inside, smap_exp)
    return stats.result()


# -- runs -------------------------------------------------------------------------------------------------------
def run_case(case: Path, renderer_name: str, work: Path, **cfg: object) -> dict:
    meta = json.loads((case / "case.json").read_text())
    renderer = get_renderer(renderer_name, progress=False, **cfg)
    out = work / f"{case.name}.mp4"
    row = {"case": case.name, "op": meta["edit"]["op"]}
    try:
        res = renderer.render_masks(case / meta["video"], case / meta["target_masks"], meta["edit"], out)
    except RenderUnsupportedError as exc:
        row["error"] = str(exc)
        return row
    row["fps"] = res.fps
    row["frames"] = res.num_frames
    row.update(evaluate(case, out))
    return row


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return "inf" if v == float("inf") else f"{v:.{digits}f}"


def _note(row: dict) -> str:
    err = row.get("error", "")
    return "unsupported, names wan-vace" if "wan-vace" in err else err[:40]


def print_table(rows: list[dict], title: str) -> None:
    table = Table(title=title)
    for col in ("case", "op", "frames", "PSNR in", "SSIM in", "PSNR out", "SSIM out", "frames/s", "note"):
        table.add_column(col, justify="left" if col in ("case", "op", "note") else "right")
    for r in rows:
        table.add_row(
            r["case"], r["op"], str(r.get("frames", "-")),
            _fmt(r.get("psnr_in")), _fmt(r.get("ssim_in"), 3), _fmt(r.get("psnr_out")), _fmt(r.get("ssim_out"), 3),
            _fmt(r.get("fps")), _note(r),
        )  # fmt: skip
    console.print(table)
    by_op: dict[str, list[dict]] = {}
    for r in rows:
        by_op.setdefault(r["op"], []).append(r)
    summary = Table(title="per op (mean over cases)")
    for col in ("op", "cases", "PSNR in", "SSIM in", "PSNR out", "SSIM out", "frames/s"):
        summary.add_column(col, justify="left" if col == "op" else "right")
    for op, rs in by_op.items():

        def mean(key: str, rs: list[dict] = rs) -> float:
            vals = [r[key] for r in rs if key in r and not np.isnan(r[key])]
            finite = [v for v in vals if np.isfinite(v)]
            if not vals:
                return float("nan")
            return float(np.mean(finite)) if finite else float("inf")

        summary.add_row(
            op,
            str(len(rs)),
            _fmt(mean("psnr_in")),
            _fmt(mean("ssim_in"), 3),
            _fmt(mean("psnr_out")),
            _fmt(mean("ssim_out"), 3),
            _fmt(mean("fps")),
        )
    console.print(summary)


def speed(work: Path, n: int) -> None:
    """Frames/s at 832x480 for remove and recolor, with and without the side videos."""
    table = Table(title=f"classical renderer speed, {W}x{H}, {n} frames (wall clock and process CPU time)")
    for col in ("op", "side videos", "seconds", "frames/s", "CPU seconds", "frames per CPU-second"):
        table.add_column(col)
    for op in ("recolor", "remove", "move"):
        case = make_case(work / "speed", f"speed-{op}", 7, (0, 0), op, n)
        meta = json.loads((case / "case.json").read_text())
        for side in (True, False):
            r = get_renderer("classical", progress=False, comparison=side, overlay=side)
            cpu0 = time.process_time()
            res = r.render_masks(case / "video.mp4", case / "target_masks", meta["edit"], work / f"speed-{op}.mp4")
            cpu = time.process_time() - cpu0
            row = (f"{res.seconds:.2f}", f"{res.fps:.1f}", f"{cpu:.2f}", f"{res.num_frames / cpu:.1f}")
            table.add_row(op, "yes" if side else "no", *row)
    console.print(table)


def memory(work: Path) -> None:
    """Peak RSS of a remove render for a short and a long video, each in a fresh subprocess (VmHWM: ru_maxrss
    would carry over the parent's peak across exec)."""
    table = Table(title=f"classical renderer peak memory vs video length ({W}x{H}, remove)")
    for col in ("frames", "peak RSS MiB", "render seconds"):
        table.add_column(col)
    for n in (48, 240):
        case = make_case(work / "mem", f"mem-{n}", 3, (1, 0), "remove", n)
        code = (
            "import sys, json; sys.path.insert(0, sys.argv[1]);"
            "from river_agent.tools.render import get_renderer;"
            "c = sys.argv[2]; r = get_renderer('classical', progress=False)"
            ".render_masks(c + '/video.mp4', c + '/target_masks', {'op': 'remove'}, sys.argv[3]);"
            "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
            "print(json.dumps([int(hwm), r.seconds]))"
        )
        root = str(Path(__file__).resolve().parents[1])
        out = subprocess.run(
            [sys.executable, "-c", code, root, str(case), str(work / f"mem-{n}.mp4")],
            capture_output=True,
            text=True,
            check=True,
        )
        rss, secs = json.loads(out.stdout.strip().splitlines()[-1])
        table.add_row(str(n), f"{rss / 1024:.0f}", f"{secs:.1f}")
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", type=Path, help="Case-format suite folder (one sub-folder per case).")
    ap.add_argument("--renderer", default="classical")
    ap.add_argument("--frames", type=int, default=48, help="Frames per synthetic case.")
    ap.add_argument("--seeds", type=int, default=2, help="Synthetic scenes per op and camera.")
    ap.add_argument("--memory", action="store_true", help="Also measure peak memory for 48 vs 240 frames.")
    ap.add_argument("--no-speed", action="store_true", help="Skip the speed table.")
    ap.add_argument("--no-quality", action="store_true", help="Skip the fidelity/preservation table.")
    ap.add_argument("--work", type=Path, help="Keep outputs here (default: a temporary folder).")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.no_quality:
            cases, title = [], ""
        elif args.suite:
            cases = sorted(p for p in args.suite.iterdir() if (p / "case.json").exists())
            title = f"{args.renderer} on {args.suite} ({len(cases)} cases)"
        else:
            cases = []
            t0 = time.perf_counter()  # synthetic cases
            for op in EDITS:
                for pan_name, pan in (("static", (0, 0)), ("pan", (2, 1))):
                    for s in range(args.seeds):
                        cases.append(
                            make_case(work / "cases", f"{op}-{pan_name}-{s}", 100 + s, pan, op, args.frames)
                        )
            console.print(f"made {len(cases)} synthetic cases in {time.perf_counter() - t0:.1f}s")
            title = (
                f"{args.renderer} on synthetic {W}x{H} scenes ({args.frames} frames, static and panning camera)"
            )
        if cases:
            print_table([run_case(c, args.renderer, work) for c in cases], title)
        if not args.no_speed:
            speed(work, args.frames)
        if args.memory:
            memory(work)


if __name__ == "__main__":
    main()
