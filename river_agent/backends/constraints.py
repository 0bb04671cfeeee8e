"""Optional decoding constraints: the RIVER tag format, a JSON schema (edit ops), a regex, or any Lark grammar.

Constraints compile to an llguidance grammar (Lark syntax with embedded JSON schemas). Local backends apply
them as a token mask inside sampling (``GuidanceLogitsProcessor``), so the recorded log-probabilities are those
of the masked distribution the tokens were really drawn from. A completion made under a constraint records
``constrained=True`` and the constraint's ``describe()`` text: RL must know the policy was not sampled freely.
"""

from __future__ import annotations

import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from river_agent.backends.base import BackendError, BackendUnavailableError

# Compact but readable JSON: no free whitespace (a weak model would ramble in it), fixed separators.
_JSON_STYLE = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def _json_grammar_body(schema: dict[str, Any]) -> str:
    s = dict(schema)
    s["x-guidance"] = {**_JSON_STYLE, **s.get("x-guidance", {})}
    return json.dumps(s)


def _lark_str(s: str) -> str:
    return json.dumps(s)


def _regex_escape(s: str) -> str:
    return "".join("\\" + c if c in ".^$*+?()[]{}|\\/" else c for c in s)


def _block_regex(open_tag: str, close_tag: str, max_chars: int | None = None) -> str:
    """A Lark regex terminal: open_tag, text without close_tag (at most max_chars characters), close_tag."""
    o, c = _regex_escape(open_tag), _regex_escape(close_tag)
    body = "(?s:.*)" if max_chars is None else f"(?s:.{{0,{max_chars}}})"
    # One lexeme for the whole block, so the end tag is unambiguous: llguidance supports & and ~ in regexes.
    return f"/{o}{body}{c}/ & ~/{o}(?s:.*){c}(?s:.*){c}(?s:.*)/"


class Constraint(ABC):
    """A decoding constraint. ``lark()`` is its grammar; ``describe()`` is what completions record."""

    kind: str = "abstract"

    @abstractmethod
    def lark(self) -> str:
        """The constraint as an llguidance Lark grammar."""

    def describe(self) -> str:
        return self.kind

    def grammar(self) -> str:
        """The llguidance grammar string (what ``LLMatcher`` takes)."""
        llg = _llguidance()
        return llg.LLMatcher.grammar_from_lark(self.lark())


@dataclass
class LarkConstraint(Constraint):
    """Any llguidance Lark grammar (see the llguidance docs for the syntax; `%json {...}` embeds a schema)."""

    source: str = field(metadata={"help": "Lark grammar text with a `start` rule."})
    kind: str = "lark"

    def lark(self) -> str:
        return self.source


@dataclass
class RegexConstraint(Constraint):
    """The whole completion must match ``pattern``."""

    pattern: str = field(metadata={"help": "Regular expression the completion must match in full."})
    kind: str = "regex"

    def lark(self) -> str:
        return f"start: /{self.pattern.replace('/', chr(92) + '/')}/"

    def describe(self) -> str:
        return f"regex:{self.pattern}"

    def grammar(self) -> str:
        return _llguidance().LLMatcher.grammar_from_regex(self.pattern)


@dataclass
class JsonSchemaConstraint(Constraint):
    """The whole completion must be JSON valid under ``schema``."""

    schema: dict[str, Any] = field(metadata={"help": "JSON schema (draft 2020-12 subset llguidance supports)."})
    label: str = field(default="json", metadata={"help": "Short name recorded in completions."})
    kind: str = "json_schema"

    def lark(self) -> str:
        return f"start: %json {_json_grammar_body(self.schema)}"

    def describe(self) -> str:
        return f"json_schema:{self.label}"


@dataclass
class TagFormatConstraint(Constraint):
    """RIVER's turn format: ``<think>...</think>`` then ``<execute>...</execute>`` or ``<edit>...</edit>``.

    With ``edit_schema`` the ``<edit>`` payload must be JSON valid under it (see ``edit_ops_schema``).
    """

    edit_schema: dict[str, Any] | None = field(
        default=None, metadata={"help": "JSON schema for the <edit> payload; free text (without </edit>) if None."}
    )
    allow_execute: bool = field(default=True, metadata={"help": "Allow an <execute> block as the action."})
    allow_edit: bool = field(default=True, metadata={"help": "Allow an <edit> block as the action."})
    max_think_chars: int | None = field(
        default=None, metadata={"help": "Most characters inside <think>; the model must close it by then."}
    )
    max_block_chars: int | None = field(
        default=None, metadata={"help": "Most characters inside <execute> (and a free-text <edit>)."}
    )
    think_opened_in_prompt: bool = field(
        default=False,
        metadata={"help": "The prompt already ends with '<think>' (R1-Distill chat template): start inside it."},
    )
    kind: str = "tag_format"

    def __post_init__(self) -> None:
        if not (self.allow_execute or self.allow_edit):
            raise BackendError("a tag-format constraint must allow <execute> or <edit>")

    def lark(self) -> str:
        think = _block_regex("<think>", "</think>", self.max_think_chars)
        if self.think_opened_in_prompt:
            think = think.replace("/<think>", "/", 2)
        actions = []
        rules = [f"THINK: {think}"]
        if self.allow_execute:
            actions.append("EXECUTE")
            rules.append(f"EXECUTE: {_block_regex('<execute>', '</execute>', self.max_block_chars)}")
        if self.allow_edit:
            if self.edit_schema is not None:
                actions.append('"<edit>" edit_json "</edit>"')
                rules.append(f"edit_json: %json {_json_grammar_body(self.edit_schema)}")
            else:
                actions.append("EDIT")
                rules.append(f"EDIT: {_block_regex('<edit>', '</edit>', self.max_block_chars)}")
        return "\n".join(['start: THINK "\\n"? action', f"action: {' | '.join(actions)}", *rules])

    def describe(self) -> str:
        parts = ["tag_format"]
        if not self.allow_execute:
            parts.append("edit_only")
        if not self.allow_edit:
            parts.append("execute_only")
        if self.edit_schema is not None:
            parts.append("edit_json")
        return ":".join(parts)


def edit_ops_schema(
    known_ids: Iterable[int] | None = None,
    min_ops: int = 0,
    max_ops: int | None = None,
    max_string_chars: int | None = 64,
    num_frames: int | None = None,
) -> dict[str, Any]:
    """JSON schema of a list of edit ops (``river_agent.twin.ops.EditOp``), ``id`` restricted to ``known_ids``.

    ``min_ops``/``max_ops`` bound the list length; ``max_string_chars`` bounds free strings (colour, key, ...);
    frame indices lie in ``[0, num_frames - 1]`` (``[0, 99999]`` if unknown), rgb channels in 0..255 and
    ``dx``/``dy`` in [-1, 1], so a weak model cannot wander off into endless digits.
    """
    last_frame = (num_frames - 1) if num_frames else 99999
    from pydantic import TypeAdapter

    from river_agent.twin.ops import EditOp

    schema = TypeAdapter(list[EditOp]).json_schema()
    ids = sorted({int(i) for i in known_ids}) if known_ids is not None else None
    if ids is not None and not ids:
        raise BackendError("cannot constrain edit ops to an empty set of object ids")

    def strip(node: Any) -> None:
        if isinstance(node, dict):
            for k in ("discriminator", "title", "default", "description"):
                node.pop(k, None)
            if "oneOf" in node:  # the variants differ in their "op" constant, so anyOf is the same language
                node["anyOf"] = node.pop("oneOf")
            props = node.get("properties")
            if (
                max_string_chars is not None
                and node.get("type") == "string"
                and "const" not in node
                and "enum" not in node
            ):
                node["maxLength"] = min(node.get("maxLength", max_string_chars), max_string_chars)
            if isinstance(props, dict):
                for key in ("dx", "dy"):
                    if key in props:
                        props[key].update(minimum=-1, maximum=1)
                for key, lo, hi in (("frames", 0, last_frame), ("rgb", 0, 255)):
                    for alt in props.get(key, {}).get("anyOf", []):
                        for item in alt.get("prefixItems", []):
                            item.update(minimum=lo, maximum=hi)
            if isinstance(props, dict) and "id" in props and "op" in props:
                # "op" first and required, so every object says what it is; ids limited to the twin's
                node["properties"] = {"op": props["op"], **{k: v for k, v in props.items() if k != "op"}}
                node["required"] = ["op", *[r for r in node.get("required", []) if r != "op"]]
                if ids is not None:
                    node["properties"]["id"] = {"enum": ids}
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)

    strip(schema)
    if min_ops > 0:
        schema["minItems"] = min_ops
    if max_ops is not None:
        schema["maxItems"] = max_ops
    return schema


def edit_ops_constraint(known_ids: Iterable[int] | None = None, **schema_kw: Any) -> JsonSchemaConstraint:
    """A JSON constraint for a bare list of edit ops on ``known_ids`` (``schema_kw``: see ``edit_ops_schema``)."""
    return JsonSchemaConstraint(edit_ops_schema(known_ids, **schema_kw), label="edit_ops")


def river_turn_constraint(
    known_ids: Iterable[int] | None = None,
    min_ops: int = 0,
    max_ops: int | None = None,
    max_string_chars: int | None = 64,
    num_frames: int | None = None,
    **kw: Any,
) -> TagFormatConstraint:
    """The tag format with the ``<edit>`` payload constrained to edit ops on ``known_ids``.

    ``kw`` goes to ``TagFormatConstraint`` (e.g. ``max_think_chars``, ``allow_execute``).
    """
    schema = edit_ops_schema(known_ids, min_ops, max_ops, max_string_chars, num_frames)
    return TagFormatConstraint(edit_schema=schema, **kw)


# ---------------------------------------------------------------------------------------------------------
# llguidance plumbing (token masks for transformers' generate)


def _llguidance() -> Any:
    # Not llguidance.torch: it runs torch.compile at import (torch._dynamo and inductor, 1-2 s of start-up), and
    # the two helpers used here are re-implemented below. llguidance.hf (imports transformers) in ll_tokenizer.
    try:
        import llguidance
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            "constrained decoding needs the 'llguidance' package: pip install llguidance"
        ) from e
    return llguidance


_LLTOK_CACHE: dict[tuple[int, int], tuple[Any, Any]] = {}  # (id, vocab) -> (tokenizer kept alive, lltok)
_LLTOK_LOCK = threading.Lock()


def ll_tokenizer(hf_tokenizer: Any, n_vocab: int) -> Any:
    """llguidance tokenizer for a Hugging Face fast tokenizer (cached per tokenizer object and vocab size)."""
    _llguidance()
    import llguidance.hf

    key = (id(hf_tokenizer), n_vocab)
    with _LLTOK_LOCK:
        if key not in _LLTOK_CACHE:
            try:
                _LLTOK_CACHE[key] = llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=n_vocab)
            except Exception as e:
                raise BackendError(
                    f"cannot build a grammar tokenizer from {type(hf_tokenizer).__name__}: {e}"
                ) from e
        return _LLTOK_CACHE[key]


def compile_matcher(constraint: Constraint, lltok: Any) -> Any:
    """An ``LLMatcher`` for ``constraint``; a bad grammar raises BackendError with llguidance's message."""
    llg = _llguidance()
    grammar = constraint.grammar()
    err = llg.LLMatcher.validate_grammar(grammar, lltok)
    if err and not err.startswith("WARNING"):
        raise BackendError(f"invalid constraint {constraint.describe()}: {err}")
    m = llg.LLMatcher(lltok, grammar, log_level=0)
    if m.is_error():
        raise BackendError(f"invalid constraint {constraint.describe()}: {m.get_error()}")
    return m


class GuidanceLogitsProcessor:
    """A transformers LogitsProcessor masking each row's logits to the tokens its grammar allows.

    Rows are sequences of one ``generate`` call that all start after ``prompt_len`` tokens. Each row has its own
    matcher, advanced with the token the previous step appended. A row whose matcher rejects a token (it
    finished by a stop string and is being padded) is left unmasked from then on.
    """

    def __init__(self, constraint: Constraint, hf_tokenizer: Any, batch_size: int, prompt_len: int, vocab: int):
        import torch

        lltok = ll_tokenizer(hf_tokenizer, vocab)
        first = compile_matcher(constraint, lltok)
        self.matchers = [first] + [first.deep_copy() for _ in range(batch_size - 1)]
        self.prompt_len = prompt_len
        self.dead = [False] * batch_size
        self.errors: list[str | None] = [None] * batch_size
        self.dead_at: list[int | None] = [None] * batch_size
        self.bitmask = torch.full((batch_size, (vocab + 31) // 32), -1, dtype=torch.int32)  # 32 tokens a word
        self._shifts = torch.arange(32, dtype=torch.int32)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        step = input_ids.shape[1] - self.prompt_len
        live = []
        for i, m in enumerate(self.matchers):
            if self.dead[i]:
                continue
            if step > 0:
                tok = int(input_ids[i, -1])
                if not m.consume_token(tok):  # a stopped matcher still takes EOS
                    self.dead[i] = True
                    self.dead_at[i] = step - 1  # index of the generated token the grammar did not take
                    if m.is_error():
                        self.errors[i] = m.get_error()
                    continue
            row = self.bitmask[i]  # contiguous CPU int32: llguidance writes the mask straight into it
            m.unsafe_compute_mask_ptr(row.data_ptr(), row.numel() * row.element_size())
            live.append(i)
        if live:
            # unpack the 32-bit words of the bitmask (llguidance's own torch helper compiles a kernel: ~20 s)
            rows = torch.tensor(live, device=scores.device)
            bits = self.bitmask[live].to(scores.device)
            allowed = ((bits.unsqueeze(-1) >> self._shifts.to(scores.device)) & 1).bool()
            allowed = allowed.view(len(live), -1)[:, : scores.shape[-1]]
            scores[rows] = scores[rows].masked_fill(~allowed, float("-inf"))
        return scores

    def accepting(self, i: int) -> bool:
        return self.matchers[i].is_accepting() or self.matchers[i].is_stopped()
