"""Readable views of traces: a rich console rendering and a standalone HTML page, segments coloured by tag."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from river_agent.errors import RiverError
from river_agent.trace import Trace

COLOURS = {
    "think": ("cyan", "#e6f4f8"),
    "execute": ("yellow", "#fff6d6"),
    "results": ("green", "#e7f6e7"),
    "target": ("magenta", "#f6e6f6"),
    "edit": ("bold magenta", "#f1dcf5"),
    "other": ("red", "#fde4e4"),
}


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
    console.print()


_CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}
table.s td{padding:2px 10px;vertical-align:top} table.s td:first-child{font-weight:bold}
.seg{margin:6px 0;border-radius:6px;padding:6px 10px;white-space:pre-wrap;font-family:ui-monospace,monospace}
.head{font-size:80%;color:#555;font-family:system-ui,sans-serif;margin-bottom:3px}
.ok{color:#080}.bad{color:#b00} details{margin:1em 0} .trace{border-top:2px solid #ccc;padding-top:1em}
"""


def render_html(traces: list[Trace], title: str = "traces") -> str:
    """A standalone page (no scripts, no external files) of ``traces``."""
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style>"
        f"</head><body><h1>{e(title)}</h1><p>{len(traces)} trace(s)</p>"
    ]
    for t in traces:
        cls = "ok" if t.valid else "bad"
        parts.append(f"<div class='trace'><h2 class='{cls}'>{e(t.id)}: {e(t.status)}</h2><table class='s'>")
        parts += [f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in _summary(t)]
        parts.append("</table><details><summary>prompt</summary>")
        for m in t.prompt_messages:
            parts.append(
                f"<div class='seg' style='background:#f4f4f4'><div class='head'>{e(m['role'])}</div>"
                f"{e(m['content'])}</div>"
            )
        parts.append("</details>")
        for s in t.segments:
            bg = COLOURS.get(s.tag, COLOURS["other"])[1]
            head = f"{s.tag} · {s.source} · turn {s.turn}"
            if s.num_tokens:
                head += f" · {s.num_tokens} tokens"
            if s.constraint:
                head += f" · constrained: {s.constraint}"
            parts.append(
                f"<div class='seg' style='background:{bg}'><div class='head'>{e(head)}</div>{e(s.text)}</div>"
            )
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
