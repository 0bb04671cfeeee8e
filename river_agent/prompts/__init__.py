"""Prompt templates and few-shot examples, kept as data (YAML rendered with jinja2)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from river_agent.errors import RiverError

PROMPT_DIR = Path(__file__).parent


@dataclass(frozen=True)
class FewShot:
    """One worked example: a view and a query, and the answer in the staged format."""

    id: str
    level: int
    category: str
    view: str
    query: str
    think: str
    target: str
    edit: str


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping with the same key twice (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except (OSError, yaml.YAMLError) as exc:
        raise RiverError(f"{path}: cannot read prompt file: {exc}") from exc


@lru_cache(maxsize=8)
def load_prompts(path: str | None = None) -> dict[str, Any]:
    """The rollout prompt set (``rollout.yaml`` here, or a user file with the same keys)."""
    data = _read_yaml(Path(path) if path else PROMPT_DIR / "rollout.yaml")
    for key in ("free", "staged", "code", "ops_doc"):
        if key not in data:
            raise RiverError(f"prompt file {path or 'rollout.yaml'} lacks the key {key!r}")
    return data


@lru_cache(maxsize=8)
def load_fewshot(path: str | None = None) -> tuple[FewShot, ...]:
    data = _read_yaml(Path(path) if path else PROMPT_DIR / "fewshot.yaml")
    try:
        return tuple(
            FewShot(**{k: str(v) if k not in ("level",) else int(v) for k, v in ex.items()})
            for ex in data["examples"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RiverError(f"few-shot file {path or 'fewshot.yaml'} is malformed: {exc}") from exc


@lru_cache(maxsize=64)
def _compiled(template: str) -> Any:
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)
    return env.from_string(template)


def render(template: str, **values: Any) -> str:
    """Render one jinja2 template string; a missing variable is an error, not an empty string."""
    return _compiled(template).render(**values)
