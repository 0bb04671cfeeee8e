"""Human-readable views of an evaluation report: a rich table (level x category, per op) and index.html."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from river_agent.fsutil import write_text_atomic

LEVELS = (1, 2, 3)
CATEGORIES = ("semantic", "spatial", "temporal")


def _fmt(v: float | None, pct: bool = False, digits: int = 2) -> str:
    if v is None:
        return "-"
    return f"{100 * v:.0f}%" if pct else f"{v:.{digits}f}"


def _cell_text(s: dict[str, Any] | None) -> str:
    if not s:
        return "-"
    fail = f" fail {s['failures']}" if s["failures"] else ""
    return (
        f"J {_fmt(s['J'])}  on {_fmt(s['on_target'], pct=True)}\n"
        f"pres {_fmt(s['preservation_psnr'], digits=1)} dB  n={s['n']}{fail}"
    )


def print_summary(report: dict[str, Any]) -> None:
    """Print the level x category table, the per-op table and the overall line."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    summ = report["summary"]
    table = Table(title=f"RVE eval: system={report['system']}  ({report['suite']})", show_lines=True)
    table.add_column("level")
    for c in CATEGORIES:
        table.add_column(c)
    for lv in LEVELS:
        table.add_row(f"L{lv}", *[_cell_text(summ["by_cell"].get(f"L{lv}/{c}")) for c in CATEGORIES])
    console.print(table)
    ops = Table(title="per edit op")
    for col in ("op", "n", "fail", "J", "on target", "pres PSNR", "pres SSIM", "fid PSNR", "fid SSIM"):
        ops.add_column(col)
    for op, s in summ["by_op"].items():
        ops.add_row(
            op,
            str(s["n"]),
            str(s["failures"]),
            _fmt(s["J"]),
            _fmt(s["on_target"], pct=True),
            _fmt(s["preservation_psnr"], digits=1),
            _fmt(s["preservation_ssim"], digits=3),
            _fmt(s["fidelity_psnr"], digits=1),
            _fmt(s["fidelity_ssim"], digits=3),
        )
    o = summ["overall"]
    ops.add_row(
        "ALL",
        str(o["n"]),
        str(o["failures"]),
        _fmt(o["J"]),
        _fmt(o["on_target"], pct=True),
        _fmt(o["preservation_psnr"], digits=1),
        _fmt(o["preservation_ssim"], digits=3),
        _fmt(o["fidelity_psnr"], digits=1),
        _fmt(o["fidelity_ssim"], digits=3),
        style="bold",
    )
    console.print(ops)


def write_html(report: dict[str, Any], path: str | Path) -> None:
    """index.html: the summary and one row per case with source / output / expected thumbnails."""
    e = html.escape
    rows = []
    for r in report["cases"]:
        th = r.get("thumbs", {})
        imgs = "".join(
            f'<td><img src="{e(r["id"])}/{e(th[k])}" width="256"><br>{k}</td>' if k in th else "<td>-</td>"
            for k in ("source", "output", "expected")
        )
        fid = r["fidelity"]
        fid_txt = (
            f"PSNR {_fmt(fid.get('psnr'), digits=1)} SSIM {_fmt(fid.get('ssim'), digits=3)}"
            if "psnr" in fid
            else e(str({k: v for k, v in fid.items() if k != "kind"}))
        )
        status = "ok" if r["ok"] else f"<b>failed</b>: {e(r['error'])}"
        rows.append(
            f"<tr><td>{e(r['id'])}<br>L{r['level']} {e(r['category'])}<br>{e(str(r['op']))}</td>"
            f"<td>{e(r['query'])}<br><small>{status}</small></td>{imgs}"
            f"<td>J {r['J']:.3f}<br>pres {_fmt(r['preservation']['psnr'], digits=1)} dB<br>{fid_txt}</td></tr>"
        )
    s = report["summary"]
    cell_rows = []
    for lv in LEVELS:
        tds = "".join(
            f"<td>{e(_cell_text(s['by_cell'].get(f'L{lv}/{c}'))).replace(chr(10), '<br>')}</td>"
            for c in CATEGORIES
        )
        cell_rows.append(f"<tr><th>L{lv}</th>{tds}</tr>")
    cells = "".join(cell_rows)
    o = s["overall"]
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>RVE eval {e(report["system"])}</title>
<style>body{{font-family:sans-serif}} td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
table{{border-collapse:collapse}}</style></head><body>
<h1>RVE eval: {e(report["system"])}</h1><p>suite {e(report["suite"])}; {o["n"]} cases, {o["failures"]} failures,
mean J {_fmt(o["J"])}, on target {_fmt(o["on_target"], pct=True)},
preservation PSNR {_fmt(o["preservation_psnr"], digits=1)} dB</p>
<table><tr><th></th>{"".join(f"<th>{c}</th>" for c in CATEGORIES)}</tr>{cells}</table>
<h2>Cases</h2><table><tr><th>case</th><th>query</th><th>source</th><th>output</th><th>expected</th>
<th>metrics</th></tr>{"".join(rows)}</table></body></html>"""
    write_text_atomic(path, doc)
