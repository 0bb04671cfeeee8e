"""Readable views of traces: a rich console rendering and a standalone HTML page, segments coloured by tag.

The HTML page (``river trace html``) shows, per rollout: a summary, the prompt, every transcript segment
(think / execute / results / edit / target, coloured by tag, programs and edit JSON syntax-highlighted), the
sandbox results, the edit ops and thumbnails of the affected objects, cropped from the twin's masks and the
source video when the trace's ``twin_ref`` (or a twin given by the caller) can be read. Pages are one file: no
scripts, images inlined as data URIs.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from river_agent.errors import RiverError
from river_agent.trace import Segment, Trace

COLOURS = {
    "think": ("cyan", "#e6f4f8"),
    "execute": ("yellow", "#fff6d6"),
    "results": ("green", "#e7f6e7"),
    "target": ("magenta", "#f6e6f6"),
    "edit": ("bold magenta", "#f1dcf5"),
    "other": ("red", "#fde4e4"),
}
BORDERS = {
    "think": "#2b8cae",
    "execute": "#c99a00",
    "results": "#2e8b2e",
    "target": "#a03ca0",
    "edit": "#7b2d8e",
    "other": "#c03030",
}
TAGS = ("think", "execute", "results", "edit", "target")
_MARKER = re.compile(r"</?(think|execute|results|edit|target)>")


def select(traces: list[Trace], index: int | None, source: Path | str = "") -> list[Trace]:
    if not traces:
        raise RiverError(f"{source}: holds no traces")
    if index is None:
        return traces
    if not -len(traces) <= index < len(traces):
        raise RiverError(f"{source}: has {len(traces)} traces; index {index} is out of range")
    return [traces[index]]


def _summary(t: Trace) -> list[tuple[str, str]]:
    tok = t.token_counts()
    rows = [
        ("query", t.query),
        ("status", f"{t.status}" + (f": {t.reason}" if t.reason else "")),
        ("policy", " / ".join(x for x in (t.backend, t.model, t.adapter, t.strategy) if x) or "-"),
        ("twin", t.twin_ref or "-"),
        ("turns", str(t.turns)),
        ("tokens", f"prompt {tok['prompt']}, policy {tok['policy']}, injected {tok['env']}"),
        ("time", ", ".join(f"{k} {v:.0f}" for k, v in t.timings.items())),
    ]
    if t.ops is not None:
        rows.append(("ops", json.dumps(t.ops)))
    if t.deviations:
        rows.append(("deviations", ", ".join(f"{d.tag}@{d.turn}" for d in t.deviations)))
    return rows


def render_console(t: Trace, console: Any, with_prompt: bool = False) -> None:
    """Print one trace with rich."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    table = Table.grid(padding=(0, 2))
    for k, v in _summary(t):
        table.add_row(Text(k, style="bold"), Text(v))
    ok = "green" if t.valid else "red"
    console.print(Panel(table, title=f"trace {t.id}", border_style=ok))
    if with_prompt:
        for m in t.prompt_messages:
            console.print(Text(f"[{m['role']}]", style="bold blue"))
            console.print(Text(m["content"], style="dim"))
    for s in t.segments:
        style = COLOURS.get(s.tag, COLOURS["other"])[0]
        head = f"{s.tag} · {s.source} · turn {s.turn}"
        if s.num_tokens:
            head += f" · {s.num_tokens} tok"
        if s.duration_ms:
            head += f" · {s.duration_ms:.0f} ms"
        if s.constraint:
            head += f" · constrained: {s.constraint}"
        console.print(Text(head, style=f"{style} reverse"))
        console.print(Text(s.text, style=style))
        if s.sandbox is not None and not s.sandbox.ok:
            console.print(Text(f"sandbox: {s.sandbox.error_type}: {s.sandbox.error}", style="red"))
        if s.votes:
            console.print(Text(votes_summary(s.votes), style="dim"))
    console.print()


def votes_summary(votes: list[dict]) -> str:
    """One line on the programs a code rollout sampled: what each answer got, which was kept."""
    tally: dict[str, int] = {}
    kept = ""
    for v in votes:
        key = str(v.get("ids")) if v.get("ids") else ("no ids" if v.get("ok") else str(v.get("error") or "error"))
        tally[key] = tally.get(key, 0) + 1
        if v.get("chosen"):
            kept = key
    parts = [f"{k} x{n}" + (" (kept)" if k == kept else "") for k, n in tally.items()]
    return f"{len(votes)} programs sampled: " + ", ".join(parts)


# ---------------------------------------------------------------------------------------------- segments
@dataclass(frozen=True)
class Part:
    """A run of a segment's text under one tag; ``marker`` parts are the tags themselves (``<execute>``)."""

    tag: str
    text: str
    marker: bool = False


def split_segment(segment: Segment) -> list[Part]:
    """The segment's text cut at its tag markers, each piece labelled with the tag it belongs to.

    Text before the first marker belongs to the tag that marker closes (``...</execute>`` continues an opener the
    environment injected), or to the segment's own tag; text after a closing marker and before the next opener
    is ``other`` (untagged)."""
    text = segment.text
    marks = list(_MARKER.finditer(text))
    tag = marks[0].group(1) if marks and marks[0].group(0).startswith("</") else segment.tag
    parts: list[Part] = []
    pos = 0
    for m in marks:
        if m.start() > pos:
            parts.append(Part(tag, text[pos : m.start()]))
        parts.append(Part(m.group(1), m.group(0), marker=True))
        tag = "other" if m.group(0).startswith("</") else m.group(1)
        pos = m.end()
    if pos < len(text):
        parts.append(Part(tag, text[pos:]))
    return parts


def highlight(code: str, language: str) -> str:
    """HTML of ``code`` with pygments' token classes (inside ``<span class='hl'>``); escaped text without it."""
    try:
        from pygments import highlight as _hl
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import JsonLexer, PythonLexer
    except ImportError:  # pragma: no cover - pygments comes with rich
        return html.escape(code)
    lexer = PythonLexer() if language == "python" else JsonLexer()
    body = _hl(code, lexer, HtmlFormatter(nowrap=True))
    if not code.endswith("\n") and body.endswith("\n"):
        body = body[:-1]  # pygments always ends with a newline
    return f"<span class='hl hl-{language}'>{body}</span>"


def _highlight_css() -> str:
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:  # pragma: no cover
        return ""
    return HtmlFormatter(style="default").get_style_defs(".hl") + "\n.hl{background:transparent}"


# ---------------------------------------------------------------------------------------------- thumbnails
@dataclass
class ObjectThumb:
    """A crop of one object in the frame where it is largest: the video frame (or its mask alone), outlined."""

    id: int
    category: str
    attributes: dict[str, str]
    t: int
    png: bytes
    from_video: bool

    @property
    def caption(self) -> str:
        attrs = ", ".join(v for k, v in self.attributes.items() if k != "description")
        return f"#{self.id} {self.category}" + (f" ({attrs})" if attrs else "") + f" · frame {self.t}"

    def data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    def image(self) -> np.ndarray:
        """The thumbnail as an RGB array."""
        import cv2

        bgr = cv2.imdecode(np.frombuffer(self.png, np.uint8), cv2.IMREAD_COLOR)
        return np.ascontiguousarray(bgr[..., ::-1])


@dataclass
class Thumbnails:
    """What the page shows for one trace: the thumbnails, and a note when some or all could not be made."""

    thumbs: list[ObjectThumb] = field(default_factory=list)
    note: str = ""
    video: str | None = None


def affected_ids(trace: Trace) -> tuple[list[int], str]:
    """Ids the rollout edited (from its ops), else the ids its last program printed; and which of the two."""
    ids = [int(op["id"]) for op in trace.ops or [] if isinstance(op, dict) and isinstance(op.get("id"), int)]
    if ids:
        return list(dict.fromkeys(ids)), "edited"
    from river_agent.graphs.rollout import ids_from_output

    for s in reversed(trace.segments):
        if s.sandbox is not None and s.sandbox.ok:
            found = ids_from_output(s.sandbox.output, range(1, 1 << 16))  # any id a 16-bit label map can hold
            if found:
                return found, "printed by the program"
    return [], ""


def load_trace_twin(trace: Trace, twin: Any = None) -> tuple[Any, str]:
    """(Twin, "") for the trace's twin (``twin`` overrides ``trace.twin_ref``), or (None, why not)."""
    from river_agent.twin.io import load_twin
    from river_agent.twin.schema import Twin

    if isinstance(twin, Twin):
        return twin, ""
    ref = str(twin) if twin is not None else trace.twin_ref
    if not ref:
        return None, "the trace names no twin"
    if ref.startswith(("mem:", "edited:")):
        return None, f"the twin was in memory ({ref}) and is not on disk"
    try:
        return load_twin(ref), ""
    except RiverError as exc:
        return None, f"the twin {ref} cannot be read ({exc})"


def find_video(twin: Any, video: str | Path | None = None) -> Path | None:
    """The source video of ``twin``: ``video`` if given, else ``video.path`` as absolute, relative to the twin
    folder, to its parent (a case folder holding ``twin/``) or to the working directory."""
    if video is not None:
        p = Path(video)
        return p if p.exists() else None
    p = Path(twin.video.path)
    candidates = [p] if p.is_absolute() else []
    if not p.is_absolute():
        if twin.root is not None:
            candidates += [Path(twin.root) / p, Path(twin.root).parent / p]
        candidates.append(Path.cwd() / p)
    return next((c for c in candidates if c.exists()), None)


def _read_frames_at(video: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    from river_agent.video.io import iter_frames

    got: dict[int, np.ndarray] = {}
    last = max(wanted) if wanted else -1
    for t, frame in enumerate(iter_frames(video)):
        if t in wanted:
            got[t] = frame
        if t >= last:
            break
    return got


def _crop_box(mask: np.ndarray, pad_frac: float = 0.3, min_pad: int = 6) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    h, w = mask.shape
    x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
    pad = max(min_pad, int(pad_frac * max(x1 - x0, y1 - y0)))
    return max(0, x0 - pad), max(0, y0 - pad), min(w, x1 + pad), min(h, y1 + pad)


def _thumb_png(frame: np.ndarray | None, mask: np.ndarray, obj_id: int, max_side: int) -> bytes:
    import cv2

    from river_agent.tools.perception.overlay import id_color

    colour = np.array(id_color(obj_id), np.float32)
    x0, y0, x1, y1 = _crop_box(mask)
    sel = mask[y0:y1, x0:x1]
    if frame is not None:  # the object's own colours, outlined (a tint would hide the colour a query names)
        img = frame[y0:y1, x0:x1].astype(np.float32)
    else:  # no video: the silhouette on grey
        img = np.full((*sel.shape, 3), 200, np.float32)
        img[sel] = colour * 0.8
    img = np.clip(img, 0, 255).astype(np.uint8)
    scale = max_side / max(img.shape[:2])
    size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
    img = cv2.resize(img, size, interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
    big = cv2.resize(sel.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(img, contours, -1, tuple(int(c) for c in colour), max(1, max_side // 64))
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[..., ::-1]))
    if not ok:  # pragma: no cover
        raise RiverError("could not encode a thumbnail")
    return buf.tobytes()


def object_thumbnails(
    twin: Any, ids: Sequence[int], video: str | Path | None = None, max_side: int = 160
) -> Thumbnails:
    """Thumbnails of ``ids`` in ``twin``: each object in the frame where its mask is largest, cropped from the
    source video (found with :func:`find_video`) or drawn from the mask alone when the video is not found."""
    from river_agent.twin.io import instance_mask

    result = Thumbnails()
    best: dict[int, tuple[int, Any]] = {}
    for obj_id in ids:
        track = twin.track(obj_id)
        if not track:
            result.note += f"#{obj_id} is not in the twin. "
            continue
        best[obj_id] = max(track, key=lambda ti: ti[1].spatial.size)
    if not best:
        return result
    path = find_video(twin, video)
    frames: dict[int, np.ndarray] = {}
    if path is None:
        result.note += f"source video {twin.video.path} not found: masks only. "
    else:
        try:
            frames = _read_frames_at(path, {t for t, _ in best.values()})
            result.video = str(path)
        except RiverError as exc:
            result.note += f"source video {path} unreadable ({exc}): masks only. "
    for obj_id, (t, inst) in best.items():
        try:
            mask = instance_mask(twin, t, obj_id)
        except RiverError as exc:
            result.note += f"#{obj_id}: {exc}. "
            continue
        if not mask.any():
            result.note += f"#{obj_id}: empty mask in frame {t}. "
            continue
        frame = frames.get(t)
        if frame is not None and frame.shape[:2] != mask.shape:
            frame = None
        result.thumbs.append(
            ObjectThumb(
                id=obj_id,
                category=inst.category,
                attributes=dict(inst.attributes),
                t=t,
                png=_thumb_png(frame, mask, obj_id, max_side),
                from_video=frame is not None,
            )
        )
    result.note = result.note.strip()
    return result


def trace_thumbnails(trace: Trace, twin: Any = None, video: str | Path | None = None) -> Thumbnails:
    """Thumbnails of the objects a rollout affected; a note says why there are none when they cannot be made."""
    ids, _ = affected_ids(trace)
    if not ids:
        return Thumbnails(note="the rollout names no object (no ops, no printed ids)")
    loaded, why = load_trace_twin(trace, twin)
    if loaded is None:
        return Thumbnails(note=f"no thumbnails: {why}")
    return object_thumbnails(loaded, ids, video)


# --------------------------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table.s td{padding:2px 10px;vertical-align:top} table.s td:first-child{font-weight:bold}
table.ops,table.overview{border-collapse:collapse;margin:.5em 0}
table.ops td,table.ops th,table.overview td,table.overview th{border:1px solid #ccc;padding:3px 8px;
  text-align:left}
.seg{margin:6px 0;border-radius:6px;padding:6px 10px;white-space:pre-wrap;font-family:ui-monospace,monospace;
  border-left:6px solid #999;font-size:90%}
.seg.src-env{border-left-width:3px} .seg.src-env .head{font-style:italic}
.part.marker{color:#666;font-weight:bold}
.head{font-size:80%;color:#555;font-family:system-ui,sans-serif;margin-bottom:3px}
.sandbox{font-size:80%;font-family:system-ui,sans-serif;margin-top:3px}
.sandbox.err{color:#b00}
.vote .head{font-size:80%;font-family:system-ui,sans-serif;color:#555;margin-top:4px}
.ok{color:#080}.bad{color:#b00} details{margin:1em 0} .trace{border-top:2px solid #ccc;padding-top:1em}
.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:4px;border-left:6px solid}
.thumbs{display:flex;flex-wrap:wrap;gap:10px}
figure.thumb{margin:0;padding:4px;border:1px solid #ccc;border-radius:6px;background:#fafafa}
figure.thumb img{display:block;image-rendering:pixelated}
figure.thumb figcaption{font-size:80%;max-width:180px}
.note{color:#8a5a00;font-style:italic}
"""


def page_css() -> str:
    """The page's stylesheet: layout, tag colours and the syntax highlighting (also for notebooks)."""
    return f"{_CSS}{_tag_css()}\n{_highlight_css()}"


def _tag_css() -> str:
    rules = []
    for tag, (_, bg) in COLOURS.items():
        rules.append(f".seg.tag-{tag}{{background:{bg};border-left-color:{BORDERS[tag]}}}")
        rules.append(f".part.tag-{tag}{{background:{bg}}}")
    return "\n".join(rules)


def segment_html(s: Segment) -> str:
    """One transcript segment as HTML (style it with :func:`page_css`)."""
    e = html.escape
    tag = s.tag if s.tag in COLOURS else "other"
    head = f"{s.tag} · {s.source} · turn {s.turn}"
    if s.num_tokens:
        head += f" · {s.num_tokens} tokens"
    if s.duration_ms:
        head += f" · {s.duration_ms:.0f} ms"
    if s.constraint:
        head += f" · constrained: {s.constraint}"
    body = []
    for p in split_segment(s):
        ptag = p.tag if p.tag in COLOURS else "other"
        if p.marker:
            body.append(f"<span class='part marker tag-{ptag}'>{e(p.text)}</span>")
        elif ptag == "execute" and s.source == "policy":
            body.append(f"<span class='part code tag-{ptag}'>{highlight(p.text, 'python')}</span>")
        elif ptag == "edit" and s.source == "policy":
            body.append(f"<span class='part json tag-{ptag}'>{highlight(p.text, 'json')}</span>")
        else:
            body.append(f"<span class='part tag-{ptag}'>{e(p.text)}</span>")
    extra = ""
    if s.sandbox is not None:
        sb = s.sandbox
        flags = [
            f for f, on in (("timed out", sb.timed_out), ("killed", sb.killed), ("truncated", sb.truncated)) if on
        ]
        what = "ok" if sb.ok else f"{sb.error_type or 'error'}: {sb.error or ''}"
        extra = (
            f"<div class='sandbox {'ok' if sb.ok else 'err'}'>sandbox {e(what)} · {sb.duration_ms:.0f} ms"
            + (f" · {e(', '.join(flags))}" if flags else "")
            + "</div>"
        )
    if s.votes:
        extra += f"<div class='sandbox votes'>{e(votes_summary(s.votes))}</div>" + _votes_html(s.votes)
    return (
        f"<div class='seg tag-{tag} src-{e(s.source)}' data-tag='{e(s.tag)}' data-source='{e(s.source)}'>"
        f"<div class='head'>{e(head)}</div>{''.join(body)}{extra}</div>"
    )


def _votes_html(votes: list[dict]) -> str:
    """Every sampled program with what it printed, folded away (traces written before codes were kept: none)."""
    e = html.escape
    rows = []
    for i, v in enumerate(votes):
        if not v.get("code"):
            continue
        got = str(v["ids"]) if v.get("ids") else ("no ids" if v.get("ok") else str(v.get("error") or "error"))
        rows.append(
            f"<div class='vote'><div class='head'>program {i + 1}: {e(got)}{' (kept)' if v.get('chosen') else ''}"
            f"</div>{highlight(str(v['code']), 'python')}</div>"
        )
    if not rows:
        return ""
    return f"<details class='votes'><summary>the {len(rows)} sampled programs</summary>{''.join(rows)}</details>"


def _ops_html(t: Trace) -> str:
    e = html.escape
    if not t.ops:
        why = t.reason or "the rollout wrote no edit"
        return f"<p class='no-ops'>no edit ops ({e(why)})</p>"
    rows = []
    for op in t.ops:
        if not isinstance(op, dict):
            rows.append(f"<tr><td colspan='3'>{e(json.dumps(op))}</td></tr>")
            continue
        params = {k: v for k, v in op.items() if k not in ("op", "id")}
        rows.append(
            f"<tr><td>{e(str(op.get('op')))}</td><td>{e(str(op.get('id', '')))}</td>"
            f"<td>{e(json.dumps(params)) if params else ''}</td></tr>"
        )
    valid = (
        "<span class='ok'>D' valid</span>" if t.valid else f"<span class='bad'>{e(t.reason or t.status)}</span>"
    )
    return f"<table class='ops'><tr><th>op</th><th>id</th><th>parameters</th></tr>{''.join(rows)}</table>{valid}"


def _thumbs_html(th: Thumbnails, label: str) -> str:
    e = html.escape
    parts = []
    if th.thumbs:
        src = f" (from {e(Path(th.video).name)})" if th.video else ""
        parts.append(f"<p>{e(label)}{src}</p><div class='thumbs'>")
        for x in th.thumbs:
            kind = "video" if x.from_video else "mask"
            parts.append(
                f"<figure class='thumb' data-id='{x.id}' data-kind='{kind}'>"
                f"<img class='thumb' src='{x.data_url()}' alt='object {x.id}'>"
                f"<figcaption>{e(x.caption)}</figcaption></figure>"
            )
        parts.append("</div>")
    if th.note:
        cls = "note" if th.thumbs else "note no-thumbs"
        parts.append(f"<p class='{cls}'>{e(th.note)}</p>")
    return "".join(parts)


def _overview(traces: Sequence[Trace]) -> str:
    e = html.escape
    rows = []
    for i, t in enumerate(traces):
        ids, _ = affected_ids(t)
        cls = "ok" if t.valid else "bad"
        rows.append(
            f"<tr><td><a href='#trace-{i}'>{i}</a></td><td>{e(str(t.extra.get('label') or t.id))}</td>"
            f"<td>{e(t.query)}</td><td class='{cls}'>{e(t.status)}</td>"
            f"<td>{e(t.strategy or '')}</td><td>{e(', '.join(map(str, ids)))}</td>"
            f"<td>{e(', '.join(str(op.get('op')) for op in t.ops or [] if isinstance(op, dict)))}</td></tr>"
        )
    return (
        "<table class='overview'><tr><th>#</th><th>rollout</th><th>query</th><th>status</th><th>strategy</th>"
        f"<th>objects</th><th>ops</th></tr>{''.join(rows)}</table>"
    )


def render_html(
    traces: Sequence[Trace],
    title: str = "traces",
    thumbnails: bool = True,
    twin: Any = None,
    video: str | Path | None = None,
) -> str:
    """A standalone page (no scripts, no external files) of ``traces``.

    ``thumbnails``: crop the affected objects from each trace's twin (``twin`` overrides every trace's
    ``twin_ref``) and source video (``video`` overrides the twin's ``video.path``)."""
    e = html.escape
    legend = "".join(
        f"<span class='tag-{tag}' style='background:{COLOURS[tag][1]};border-color:{BORDERS[tag]}'>{tag}</span>"
        for tag in TAGS
    )
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{page_css()}</style></head><body><h1>{e(title)}</h1>"
        f"<p>{len(traces)} rollout(s)</p><p class='legend'>{legend}</p>"
    ]
    if len(traces) > 1:
        parts.append(_overview(traces))
    for i, t in enumerate(traces):
        cls = "ok" if t.valid else "bad"
        label = f"{t.extra['label']} · " if t.extra.get("label") else ""
        parts.append(
            f"<section class='trace' id='trace-{i}' data-trace-id='{e(t.id)}'>"
            f"<h2 class='{cls}'>{i}. {e(label)}{e(t.id)}: {e(t.status)}</h2><table class='s'>"
        )
        parts += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in _summary(t)]
        parts.append("</table><details><summary>prompt</summary>")
        for m in t.prompt_messages:
            parts.append(
                f"<div class='seg' style='background:#f4f4f4'><div class='head'>{e(m['role'])}</div>"
                f"{e(m['content'])}</div>"
            )
        parts.append("</details><h3>Transcript</h3><div class='segments'>")
        parts += [segment_html(s) for s in t.segments]
        parts.append("</div><h3>Edit</h3>")
        parts.append(_ops_html(t))
        parts.append("<h3>Affected objects</h3>")
        if thumbnails:
            ids, label = affected_ids(t)
            th = trace_thumbnails(t, twin, video)
            parts.append(_thumbs_html(th, f"objects {label}: {', '.join(map(str, ids))}" if ids else ""))
        else:
            parts.append("<p class='note no-thumbs'>thumbnails switched off</p>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(traces: Iterable[Trace], out: str | Path, title: str = "traces", **options: Any) -> Path:
    """Write :func:`render_html` of ``traces`` to ``out`` atomically; returns the path."""
    from river_agent.fsutil import write_text_atomic

    out = Path(out)
    write_text_atomic(out, render_html(list(traces), title=title, **options))
    return out
