"""Training and evaluation items for the policy: a twin, a request and what the right edit is.

Items come from any folder of cases in the shared case format (``case.json`` with ``twin``, ``target_ids``,
``edit``, ``level``), or straight from the RVE-Synth generator without writing videos (``synth_items``: the
ground-truth twin of a sampled scene is all a rollout needs, ~40 ms per item at 416x240x24).

Held-out data: a held-back seed shares the generator's phrasing templates, so whole templates and one object
kind are held back as well. ``held_out_reason(item)`` says why an item is held out (a phrase from
``HELD_OUT_PHRASES`` in its request, or the held-out kind among its targets); training drops those items,
evaluation reports them apart from the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from river_agent.errors import RiverError
from river_agent.twin.schema import Twin

log = logging.getLogger(__name__)

# Phrasing templates the trainer never sees (edit wordings, synonyms, clauses); eval reports them apart.
HELD_OUT_PHRASES: tuple[str, ...] = (
    "erase ",
    "make {np} disappear",
    "swap ",
    "recolour ",
    "scale ",
    "a little further",
    "lorry",
    "pup",
    "polka-dot",
    "four-legged creature",
    "thing that walks",
    "pulls up and stays put",
    "exits the picture",
    "faster and faster",
    "partly hides",
    "gets ahead of",
    "arrives after",
    "heavy hauler",
    "what birds nest in",
    "wags its tail",
    "pack things into",
    "whichever object",
    "same surface pattern",
)
HELD_OUT_KIND = "ball"  # no training item targets a ball (balls still appear in training scenes)


class Item(BaseModel):
    """One request over one twin, with its answer (target ids and the edit)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    id: str
    query: str
    level: int = 0
    category: str = ""
    target_ids: list[int]
    edit: dict[str, Any] = Field(description="The case's edit: op and its parameters, no ids.")
    logic: dict[str, Any] | None = None
    twin: Twin | None = Field(default=None, exclude=True)
    twin_path: str | None = None
    case_dir: str | None = None

    def load_twin(self) -> Twin:
        if self.twin is None:
            if not self.twin_path:
                raise RiverError(f"item {self.id}: no twin")
            from river_agent.twin.io import load_twin

            self.twin = load_twin(self.twin_path)
        return self.twin

    def target_kinds(self) -> set[str]:
        twin = self.load_twin()
        kinds = {i.id: i.category for f in twin.frames for i in f.instances}
        return {kinds[t] for t in self.target_ids if t in kinds}

    def gold_ops(self) -> list[dict[str, Any]]:
        """The edit as ops on the target ids (op, id, then the parameters, as the ops doc writes them)."""
        params = {k: v for k, v in self.edit.items() if k != "op"}
        return [{"op": self.edit["op"], "id": int(i), **params} for i in self.target_ids]


def _held_phrase(query: str) -> str | None:
    low = f" {query.lower()}"
    for phrase in HELD_OUT_PHRASES:
        if "{np}" in phrase:
            head, tail = phrase.split("{np}")
            if low.strip().startswith(head.strip()) and tail.strip() in low:
                return phrase
        elif phrase in low:
            return phrase
    return None


def held_out_reason(item: Item) -> str | None:
    """Why ``item`` is held out of training: 'phrase:<p>', 'kind:<k>', or None when it may be trained on."""
    phrase = _held_phrase(item.query)
    if phrase:
        return f"phrase:{phrase.strip()}"
    if HELD_OUT_KIND in item.target_kinds():
        return f"kind:{HELD_OUT_KIND}"
    return None


def synth_items(
    seed: int,
    n: int,
    *,
    width: int = 416,
    height: int = 240,
    frames: int = 24,
    start: int = 0,
    include_generative: bool = True,
) -> Iterator[Item]:
    """RVE-Synth items made in memory (no video written): ``n`` cases of suite ``seed`` from index ``start``.

    A case the generator cannot make (no unambiguous query in its scene budget) is skipped with a log line, so
    a long run never dies on one unlucky index.
    """
    from river_agent.bench.generate import GenConfig, build_twin, plan_case

    cfg = GenConfig(n=start + n, seed=seed, width=width, height=height, frames=frames)
    if not include_generative:
        cfg.replace_every = 0
    for i in range(start, start + n):
        try:
            spec = plan_case(i, cfg)
        except RiverError as exc:
            log.warning("skipping RVE-Synth item: %s", exc)
            continue
        yield Item(
            id=spec.case_id,
            query=spec.query,
            level=spec.level,
            category=spec.category,
            target_ids=list(spec.target_ids),
            edit=dict(spec.edit),
            logic=spec.logic,
            twin=build_twin(spec.scene, spec.label_maps),
        )


def case_items(folder: str | Path) -> list[Item]:
    """Items from a folder of cases in the shared case format (each case needs a twin and its target ids)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RiverError(f"{folder}: not a folder of cases")
    items = []
    for case_json in sorted(folder.glob("*/case.json")):
        try:
            data = json.loads(case_json.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RiverError(f"{case_json}: unreadable case: {exc}") from exc
        if not data.get("twin") or data.get("target_ids") is None:
            continue  # a case without a ground-truth twin or target ids cannot be trained on
        items.append(
            Item(
                id=str(data.get("id", case_json.parent.name)),
                query=data["query"],
                level=int(data.get("level", 0)),
                category=str(data.get("category", "")),
                target_ids=[int(i) for i in data["target_ids"]],
                edit=dict(data["edit"]),
                logic=data.get("logic"),
                twin_path=str(case_json.parent / data["twin"]),
                case_dir=str(case_json.parent),
            )
        )
    if not items:
        raise RiverError(f"{folder}: no cases with a twin and target_ids")
    return items
