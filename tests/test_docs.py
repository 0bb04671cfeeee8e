"""The documents a newcomer reads: self-contained, in step with the code, diagrams drawn from the graphs."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from river_agent.bench.cases import EDIT_OPS, Case
from river_agent.twin.io import parse_twin
from river_agent.twin.ops import EDIT_OP_NAMES
from river_agent.twin.schema import Frame, Instance, Spatial, Twin, VideoMeta

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
README = ROOT / "README.md"


def _diagrams():
    spec = importlib.util.spec_from_file_location("make_diagrams", ROOT / "scripts" / "make_diagrams.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _json_blocks(path: Path) -> list[str]:
    return re.findall(r"```json\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_every_document_a_user_needs_is_in_the_repository():
    for path in [README, *DOCS]:
        text = path.read_text(encoding="utf-8")
        assert "shared/" not in text, f"{path.name} points outside the repository"
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: broken link {target}"
    linked = set(re.findall(r"\]\((docs/[^)#\s]+)\)", README.read_text(encoding="utf-8")))
    assert {"docs/twin-format.md", "docs/case-format.md", "docs/architecture.md"} <= linked
    assert {f"docs/{p.name}" for p in DOCS} <= linked  # the README reaches every document


def test_twin_format_doc_example_parses_and_covers_the_schema():
    doc = ROOT / "docs" / "twin-format.md"
    (example,) = _json_blocks(doc)
    twin = parse_twin(example)
    assert isinstance(twin, Twin) and twin.frames[0].instances[0].mask_label == 3
    text = doc.read_text(encoding="utf-8")
    for model in (VideoMeta, Frame, Instance, Spatial):
        for name in model.model_fields:
            assert f"`{name}`" in text or f".{name}`" in text, (model.__name__, name)
    for op in EDIT_OP_NAMES:
        assert f"`{op}`" in text, op


def test_case_format_doc_example_parses_and_covers_the_fields():
    doc = ROOT / "docs" / "case-format.md"
    (example,) = _json_blocks(doc)
    case = Case.model_validate(json.loads(example))
    assert case.edit["op"] in EDIT_OPS
    text = doc.read_text(encoding="utf-8")
    for name in Case.model_fields:
        if name != "root":  # where the case was loaded from, not a case.json field
            assert f"`{name}`" in text, name
    for op in EDIT_OPS:
        assert f"`{op}`" in text, op


def test_architecture_diagrams_match_the_graphs():
    mod = _diagrams()
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert doc == mod.render(), "docs/architecture.md is stale: run python scripts/make_diagrams.py"
    readme = README.read_text(encoding="utf-8")
    assert readme == mod.readme_with_diagrams(readme), "README.md diagrams are stale: rerun the script"
    blocks = re.findall(r"```mermaid\n(.*?)```", doc, re.S)
    assert len(blocks) == 2 and re.findall(r"```mermaid\n(.*?)```", readme, re.S) == blocks
    pipeline, rollout = blocks
    for node in ("perceive", "reason", "validate", "render", "verify"):
        assert f"\t{node}({node})" in pipeline, node
    for edge in ("think -.-> execute", "execute -.-> results", "results -.-> think", "edit -.-> validate"):
        assert edge in rollout, edge


def test_a_changed_diagram_is_caught(tmp_path):
    mod = _diagrams()
    readme = README.read_text(encoding="utf-8")
    stale = readme.replace("think -.-> execute", "think -.-> nowhere")
    assert stale != readme and mod.readme_with_diagrams(stale) == readme
    with pytest.raises(SystemExit, match="lacks the markers"):
        mod.readme_with_diagrams("# no markers\n")
