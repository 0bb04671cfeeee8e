"""Background model: temporal median of a bounded frame sample, plus a "ground" model for objects that never move.

The median of frames spread over the video removes whatever moves. Objects that never move stay in it; they are
found by comparing the median with a heavily median-blurred copy of itself (the ground's large-scale colours):
compact regions that differ from it are standing objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from river_agent.video.io import iter_frames


@dataclass
class BackgroundModel:
    background: np.ndarray  # HxWx3 uint8 temporal median
    ground: np.ndarray  # HxWx3 uint8, the background with compact objects blurred away
    static_labels: np.ndarray  # HxW int32, standing objects found in the background (0 = none)
    num_static: int
    rows: np.ndarray | None = None  # Hx1x3 per-row median of the background (layered scenes)

    def ground_distance(self, frame: np.ndarray, box: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Per-pixel max-channel distance of ``frame`` (or of its ``box`` = x0, y0, x1, y1) to the nearer of the
        two ground models."""
        x0, y0, x1, y1 = box or (0, 0, frame.shape[1], frame.shape[0])
        part = frame[y0:y1, x0:x1]
        d = max_abs_diff(part, self.ground[y0:y1, x0:x1])
        if self.rows is not None:
            d = np.minimum(d, max_abs_diff(part, np.broadcast_to(self.rows[y0:y1], part.shape)))
        return d


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel max over channels of |a - b| (uint8)."""
    d = cv2.absdiff(a, b)
    return np.maximum(np.maximum(d[..., 0], d[..., 1]), d[..., 2])


def sample_frames(video: Path, num_frames: int, max_samples: int) -> np.ndarray:
    """Up to ``max_samples`` frames spread evenly over the video (streams; holds only the sample)."""
    n = max(1, min(max_samples, num_frames))
    wanted = set(np.linspace(0, max(num_frames - 1, 0), n).round().astype(int).tolist())
    out = [frame for t, frame in enumerate(iter_frames(video)) if t in wanted]
    return np.stack(out)


def _row_model(background: np.ndarray) -> np.ndarray:
    """Hx1x3: the median of each row, then a running median over neighbouring rows (thin marks do not count)."""
    from scipy.ndimage import median_filter

    rows = np.median(background, axis=1)
    k = max(3, int(background.shape[0] * 0.045) // 2 * 2 + 1)
    return median_filter(rows, size=(k, 1), mode="nearest").astype(np.uint8)[:, None]


def _ground(background: np.ndarray, ksize_frac: float) -> np.ndarray:
    """The background without compact objects: per pixel, whichever of two models is closer to it.

    A median blur with a kernel larger than any standing object keeps straight edges and drops blobs; a per-row
    median keeps horizontal layers thinner than that kernel (roads, horizons) and drops what covers less than
    half a row.
    """
    k = int(min(background.shape[:2]) * ksize_frac) // 2 * 2 + 1
    blur = cv2.medianBlur(background, max(3, k))
    rows = np.broadcast_to(_row_model(background), background.shape)
    closer = max_abs_diff(background, rows) < max_abs_diff(background, blur)
    return np.where(closer[..., None], rows, blur)


def _colour_keys(image: np.ndarray) -> np.ndarray:
    """Per pixel: a hue bin x saturation class (0..35) for chromatic colours, 36 for dark, 37 for light grays
    (patterns that modulate brightness keep their key)."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    h, sat, val = hsv[..., 0].astype(np.int32), hsv[..., 1], hsv[..., 2]
    keys = (h * 18) // 180 * 2 + (sat >= 200)
    keys = np.where(val < 60, 36, np.where(sat < 50, 37, keys))
    return keys.astype(np.int32)


def chroma_close(a: np.ndarray, b: np.ndarray, tol: float = 0.12) -> bool:
    """Same brightness-free colour: mean RGB divided by its sum (shading and patterns that scale brightness
    keep it) within ``tol`` (L1); any two near-grays count as the same."""
    ca, cb = a / max(float(a.sum()), 1.0), b / max(float(b.sum()), 1.0)
    if np.ptp(ca) < 0.06 and np.ptp(cb) < 0.06:
        return True
    return float(np.abs(ca - cb).sum()) <= tol


def join_lookalikes(
    mask: np.ndarray, image: np.ndarray, gap: int = 9, follow_below: int = 0
) -> tuple[np.ndarray, np.ndarray, int]:
    """Components of ``mask`` split where the colour (hue) changes, then re-joined where pieces closer than
    ``gap`` px have close colours: one object split by a seam stays one, touching objects of different colours
    come apart."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keys = _colour_keys(image)
    labels = np.zeros(mask.shape, np.int32)
    piece_key = [0]
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return labels, np.zeros((1, 5), np.int32), 1
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    sub_mask, sub_keys = mask[y0:y1, x0:x1] > 0, keys[y0:y1, x0:x1]
    sub_labels = labels[y0:y1, x0:x1]
    for k in np.unique(sub_keys[sub_mask]).tolist():
        n_k, lab_k = cv2.connectedComponents((sub_mask & (sub_keys == k)).astype(np.uint8), connectivity=8)
        for i in range(1, n_k):
            sub_labels[lab_k == i] = len(piece_key)
            piece_key.append(k)
    n = len(piece_key)
    grown = cv2.dilate(labels.astype(np.float32), np.ones((gap, gap), np.uint8)).astype(np.int32)
    near = (grown != labels) & (labels > 0) & (grown > 0)
    pairs = set(zip(labels[near].tolist(), grown[near].tolist(), strict=True))
    flat = sub_labels.ravel()
    sub_rgb = image[y0:y1, x0:x1].reshape(-1, 3).astype(np.float64)
    means = np.stack([np.bincount(flat, weights=sub_rgb[:, c], minlength=n) for c in range(3)], -1)
    edges = []
    for a, b in pairs:
        if a == b:
            continue
        if chroma_close(means[a], means[b]):
            edges.append((a, b))
    # tiny pieces (anti-aliased rims, specks) join nothing: they could bridge two objects
    if edges:
        rows, cols = zip(*edges, strict=True)
        graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n, n))
        _, comp = connected_components(graph, directed=False)
    else:
        comp = np.arange(n)
    comp = comp - comp[0]
    order = {c: i for i, c in enumerate(sorted(set(comp.tolist())))}
    merged = np.array([order[c] for c in comp.tolist()], np.int32)[labels]
    m = len(order)
    if follow_below and m > 2:  # small groups (rims, specks) join their largest neighbour
        sizes = np.bincount(merged.ravel(), minlength=m)
        kernel = np.ones((3, 3), np.uint8)
        for g in np.argsort(sizes).tolist():
            if g == 0 or sizes[g] == 0 or sizes[g] >= follow_below:
                continue
            ring = cv2.dilate((merged == g).astype(np.uint8), kernel).astype(bool) & (merged != g) & (merged > 0)
            if ring.any():
                nb = np.bincount(merged[ring], minlength=m)
                target = int(np.argmax(nb * (sizes >= 1)))
                merged[merged == g] = target
                sizes[target] += sizes[g]
                sizes[g] = 0
        keep = np.union1d([0], np.unique(merged))
        lut = np.zeros(m, np.int32)
        lut[keep] = np.arange(keep.size)
        merged = lut[merged]
        m = int(keep.size)
    stats = np.zeros((m, 5), np.int32)
    for i in range(1, m):
        ys, xs = np.nonzero(merged == i)
        stats[i] = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1, ys.size)
    return merged, stats, m


def _changed(frames: np.ndarray, median: np.ndarray, tol: int, share: float = 0.85) -> np.ndarray:
    """HxW bool: pixels whose sampled values stay within ``tol`` of the median in fewer than ``share`` of the
    samples (something moving covered them for a while)."""
    agree = np.zeros(median.shape[:2], np.uint16)
    for f in frames:
        agree += max_abs_diff(f, median) <= tol
    return agree < share * frames.shape[0]


def _fill_from(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``image`` with its unknown pixels replaced by a local mean of the known ones (normalised box filters,
    growing until every pixel has a value)."""
    if known.all() or not known.any():
        return image
    out = image.copy()
    todo = ~known
    k = max(3, min(image.shape[:2]) // 16 | 1)
    wts = known.astype(np.float32)
    vals = image.astype(np.float32) * wts[..., None]
    while todo.any() and k < 4 * max(image.shape[:2]):
        den = cv2.blur(wts, (k, k))
        num = cv2.blur(vals, (k, k))
        ok = todo & (den > 0.05)
        out[ok] = (num[ok] / den[ok, None]).round().clip(0, 255).astype(np.uint8)
        todo &= ~ok
        k = k * 2 + 1
    return out


def _stable_rows(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Hx1x3 per-row median over the known pixels (rows with few known pixels take their nearest such row)."""
    h, w = known.shape
    rows = np.zeros((h, 3), np.float32)
    good = known.sum(1) >= max(8, w // 10)
    if not good.any():
        return _row_model(image)
    for y in np.nonzero(good)[0]:
        rows[y] = np.median(image[y][known[y]], axis=0)
    idx = np.nonzero(good)[0]
    nearest = idx[np.clip(np.searchsorted(idx, np.arange(h)), 0, idx.size - 1)]
    rows[~good] = rows[nearest[~good]]
    return rows.astype(np.uint8)[:, None]


def _uncover(frames: np.ndarray, background: np.ndarray, threshold: int) -> np.ndarray:
    """In place: where something moving covered a pixel in part of the samples (slow, stopping or large objects
    leave their colour in the median), take the recurring sampled value most like the ground seen around it
    (the pixels nothing covered: a local fill and a per-row median). Returns the mask of pixels it decided."""
    changed = _changed(frames, background, threshold // 2)
    if not changed.any():
        return changed
    known = ~changed
    fill = _fill_from(background, known)
    rows = np.broadcast_to(_stable_rows(background, known), background.shape)
    ys, xs = np.nonzero(changed)
    for i in range(0, ys.size, _CHUNK):  # in chunks: the work arrays are S x chunk, whatever the frame size
        _uncover_pixels(frames, background, ys[i : i + _CHUNK], xs[i : i + _CHUNK], fill, rows, threshold)
    return changed


_CHUNK = 1 << 16


def _uncover_pixels(
    frames: np.ndarray,
    background: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    fill: np.ndarray,
    rows: np.ndarray,
    threshold: int,
) -> None:
    """:func:`_uncover` for the pixels (ys, xs), given the two ground references."""
    vals = [frames[:, ys, xs, c].astype(np.int16) for c in range(3)]  # 3 x (S x N)

    def dist(ref: np.ndarray) -> np.ndarray:  # S x N max-channel distance of the samples to N x 3 ``ref``
        r = ref.astype(np.int16)
        d = np.abs(vals[0] - r[None, :, 0])
        np.maximum(d, np.abs(vals[1] - r[None, :, 1]), out=d)
        np.maximum(d, np.abs(vals[2] - r[None, :, 2]), out=d)
        return d

    d_ref = np.minimum(dist(fill[ys, xs]), dist(rows[ys, xs]))
    n, tol = ys.size, threshold // 2
    chosen = np.full(n, -1, np.int64)
    # candidates first: the values at the video's two ends and the median. A thing that passes leaves the same
    # ground before and after; one that stops (or starts) there shows ground at one end only; one that comes and
    # goes leaves ground most of the time. Of those that are stable, the one most like the ground around wins.
    k = max(1, min(3, frames.shape[0] // 6))
    best_d = np.full(n, 10_000, np.int16)
    med = [background[ys, xs, c].astype(np.int16) for c in range(3)]
    med_ref = np.minimum(
        np.abs(np.stack(med, -1) - fill[ys, xs].astype(np.int16)).max(-1),
        np.abs(np.stack(med, -1) - rows[ys, xs].astype(np.int16)).max(-1),
    )
    med_support = np.zeros(n, np.int16)
    for i in range(frames.shape[0]):
        d = np.abs(vals[0][i] - med[0])
        np.maximum(d, np.abs(vals[1][i] - med[1]), out=d)
        np.maximum(d, np.abs(vals[2][i] - med[2]), out=d)
        med_support += d <= tol
    min_support = max(2, frames.shape[0] // 8)
    med_ok = med_support >= min_support
    best_d[med_ok] = med_ref[med_ok]
    ends = []
    for idx in (list(range(k)), list(range(frames.shape[0] - k, frames.shape[0]))):
        mid = idx[len(idx) // 2]
        spread = np.zeros(n, np.int16)
        for i in idx:
            d = np.abs(vals[0][i] - vals[0][mid])
            np.maximum(d, np.abs(vals[1][i] - vals[1][mid]), out=d)
            np.maximum(d, np.abs(vals[2][i] - vals[2][mid]), out=d)
            np.maximum(spread, d, out=spread)
        better = (spread <= tol) & (d_ref[mid] < best_d)
        chosen[better] = mid
        best_d[better] = d_ref[mid][better]
        ends.append((mid, spread <= tol))
    keep_med = med_ok & (chosen < 0)
    chosen[keep_med] = -2  # the median stays
    # both ends stable and alike: what was there before and after the things that passed (sure, even when it
    # looks unlike the ground around it, e.g. a lane mark)
    (h_i, h_ok), (t_i, t_ok) = ends
    d_ends = np.abs(vals[0][h_i] - vals[0][t_i])
    np.maximum(d_ends, np.abs(vals[1][h_i] - vals[1][t_i]), out=d_ends)
    np.maximum(d_ends, np.abs(vals[2][h_i] - vals[2][t_i]), out=d_ends)
    sure = h_ok & t_ok & (d_ends <= tol)
    chosen[sure] = h_i
    # any other recurring value (seen in several samples) that is clearly more like the ground wins over those
    sel = np.nonzero(~sure)[0]
    work = d_ref[:, sel]  # S x M, shrinks as pixels are decided (no S x N index array: bounded memory)
    for _ in range(min(4, frames.shape[0])):  # the most ground-like values first; take one that recurs
        pick = np.argmin(work, axis=0)
        cand = np.stack([v[pick, sel] for v in vals], -1)  # M x 3
        sub = [v[:, sel] for v in vals]
        d = np.abs(sub[0] - cand[None, :, 0])
        np.maximum(d, np.abs(sub[1] - cand[None, :, 1]), out=d)
        np.maximum(d, np.abs(sub[2] - cand[None, :, 2]), out=d)
        ok = (d <= tol).sum(0) >= min_support
        win = ok & (d_ref[pick, sel] + threshold < best_d[sel])
        chosen[sel[win]] = pick[win]
        work[pick, np.arange(sel.size)] = np.iinfo(np.int16).max
        sel, work = sel[~ok], work[:, ~ok]
        if not sel.size:
            break
    done = chosen >= 0
    idx = np.nonzero(done)[0]
    background[ys[idx], xs[idx]] = np.stack([v[chosen[idx], idx] for v in vals], -1).astype(np.uint8)


def build_background(
    frames: np.ndarray,
    static_objects: bool,
    threshold: int,
    min_area: int,
    max_area_frac: float,
    min_solidity: float,
) -> BackgroundModel:
    """Median background and the standing objects in it."""
    background = np.median(frames, axis=0).astype(np.uint8)
    h, w = background.shape[:2]
    decided = _uncover(frames, background, threshold)
    ground = _ground(background, ksize_frac=1 / 3)
    # where the median still looks like an object (one that sat there in most sampled frames), take instead the
    # sampled value closest to the ground: any frame in which the spot was uncovered wins
    suspect = (max_abs_diff(background, ground) > threshold) & ~decided
    if suspect.any():
        ys, xs = np.nonzero(suspect)
        vals = frames[:, ys, xs].astype(np.int16)  # S x N x 3
        dist = np.abs(vals - ground[ys, xs][None].astype(np.int16)).max(-1)
        chosen = vals[np.argmin(dist, 0), np.arange(ys.size)]  # N x 3
        # accept it only where it is stable (seen in several samples) and looks like ground (not another object)
        agree = (np.abs(vals - chosen[None]).max(-1) <= threshold // 2).sum(0)
        ok = (agree >= max(2, vals.shape[0] // 8)) & (dist.min(0) <= 2 * threshold)
        background[ys[ok], xs[ok]] = chosen[ok].astype(np.uint8)
        # a standing object is constant; a spot that keeps changing yet never shows ground is covered by moving
        # things in turn (a slow, long object): its best guess is the ground itself
        cur = background[ys, xs].astype(np.int16)
        stable = (np.abs(vals - cur[None]).max(-1) <= threshold // 2).mean(0) >= 0.7
        still = np.abs(cur - ground[ys, xs].astype(np.int16)).max(-1) > threshold
        bad = still & ~stable
        background[ys[bad], xs[bad]] = ground[ys[bad], xs[bad]]
        ground = _ground(background, ksize_frac=1 / 3)
    static_labels = np.zeros((h, w), np.int32)
    count = 0
    if static_objects:
        for _ in range(2):  # re-estimate the ground without the standing objects' pixels biasing the median
            diff = max_abs_diff(background, ground) > threshold
            ground = _ground(np.where(diff[..., None], ground, background), ksize_frac=1 / 3)
        diff = max_abs_diff(background, ground) > threshold
        mask = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        labels, stats, n = join_lookalikes(mask, background, gap=13)  # a head above its body
        for i in range(1, n):
            x, y, bw, bh = stats[i, :4]
            area = int(np.count_nonzero(labels[y : y + bh, x : x + bw] == i))
            if area < min_area or area > max_area_frac * h * w:
                continue
            x, y, bw, bh = stats[i, :4]
            if min(bw, bh) < max(6, 0.04 * h) or area < 3 * min_area:  # road marks, horizon seams
                continue
            comp_diff = max_abs_diff(background[y : y + bh, x : x + bw], ground[y : y + bh, x : x + bw])
            if comp_diff[labels[y : y + bh, x : x + bw] == i].mean() < 1.6 * threshold:  # soft texture (clouds)
                continue
            comp = (labels[y : y + bh, x : x + bw] == i).astype(np.uint8)
            contours, _ = cv2.findContours(comp, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            hull_area = cv2.contourArea(cv2.convexHull(np.concatenate(contours)))
            if hull_area <= 0 or area / hull_area < min_solidity:
                continue
            count += 1
            static_labels[y : y + bh, x : x + bw][comp.astype(bool)] = count
    rows = _row_model(background)
    return BackgroundModel(background, ground, static_labels, count, rows)
