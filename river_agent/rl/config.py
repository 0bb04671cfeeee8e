"""``TrainConfig``: every setting of ``python -m river_agent.rl.train``, with help text, CLI flags and files.

Defaults are the paper's GRPO values (LoRA rank 8, learning rate 5e-7, batch 8, 10 epochs, KL to the reference);
docs/training.md says which values the CPU run used.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from river_agent.errors import RiverError


def _h(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class TrainConfig:
    """Settings of a training run (SFT warm start, then GRPO from rollouts of the inference graph)."""

    out: str = _h(
        "Run folder: checkpoints, adapter/, log.jsonl, reward_curve.png, traces.jsonl.", default="runs/rl"
    )
    model: str | None = _h(
        "Base model folder or .gguf (default: the embedded SmolLM2-135M-Instruct).", default=None
    )
    strategy: str = _h("Rollout strategy the policy learns: 'code' (programs) or 'staged' (ids).", default="code")
    # data
    cases: str | None = _h(
        "Folder of cases (shared case format); default: RVE-Synth items made in memory.", default=None
    )
    train_seed: int = _h("RVE-Synth seed of the training items (never an evaluation seed).", default=100)
    train_items: int = _h("RVE-Synth items to draw before held-out ones are dropped.", default=400)
    frame_size: str = _h("WIDTHxHEIGHTxFRAMES of in-memory RVE-Synth items.", default="416x240x24")
    hold_out: bool = _h("Drop items with held-out phrasings or the held-out kind (rl.data).", default=True)
    # LoRA
    lora_rank: int = _h("LoRA rank.", default=8)
    lora_alpha: int = _h("LoRA alpha.", default=16)
    lora_layers: int = _h(
        "Adapt only the top N transformer layers (0: all): a cheaper backward pass on CPU.", default=0
    )
    lora_targets: str = _h("LoRA target modules ('all-linear' or comma-separated names).", default="all-linear")
    resume_adapter: str | None = _h("Start from this adapter folder instead of a fresh LoRA.", default=None)
    # SFT warm start (a departure from the paper, documented)
    sft_epochs: float = _h("Epochs of the supervised warm start on reference traces (0: none).", default=0.0)
    sft_lr: float = _h("Learning rate of the warm start.", default=3e-4)
    sft_batch: int = _h("Batch size of the warm start.", default=4)
    # GRPO
    grpo_steps: int = _h("GRPO optimiser steps (-1: grpo_epochs over the items).", default=-1)
    grpo_epochs: float = _h("GRPO epochs over the items (used when grpo_steps is -1).", default=10.0)
    lr: float = _h("GRPO learning rate.", default=5e-7)
    batch: int = _h("Completions per GRPO optimiser step.", default=8)
    group: int = _h("Completions per prompt (the GRPO group).", default=4)
    micro_batch: int = _h(
        "Sequences per forward/backward pass in both phases (gradients accumulate up to batch / sft_batch): "
        "lower peak memory.",
        default=2,
    )
    beta: float = _h("KL coefficient to the reference (the base model: the adapter disabled).", default=0.04)
    temperature: float = _h("Sampling temperature of training rollouts.", default=1.0)
    alpha_format: float = _h("alpha: weight of R_token + R_exec + R_dt.", default=1.0)
    beta_perf: float = _h("beta: weight of R_perf.", default=1.0)
    judge: str = _h(
        "Judge of R_perf: 'ground-truth' (cases with target ids), 'twin' or 'mllm'.", default="ground-truth"
    )
    shaped: bool = _h("Add shaped rewards (right ids, right op), logged separately.", default=False)
    staged_format: str = _h(
        "R_token of rollouts without <execute>: 'strategy' or 'paper' (rl.rewards).", default="strategy"
    )
    # run
    save_steps: int = _h("Checkpoint every this many optimiser steps.", default=5)
    seed: int = _h("Training seed.", default=0)
    device: str = _h("'cpu' or 'cuda' (the trainers run on this device).", default="cpu")
    threads: int = _h("torch threads (0: leave as is).", default=2)
    generator: str = _h(
        "Rollout generation: 'transformers' (the live policy in-process) or 'vllm'.", default="transformers"
    )
    vllm_url: str | None = _h(
        "vLLM server (generator=vllm): it receives the adapter after each step.", default=None
    )
    vllm_model: str = _h("Name the vLLM server serves the base model under.", default="smollm2")

    # ------------------------------------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RiverError(f"unknown training settings {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RiverError(f"{path}: cannot read the training config: {exc}") from exc
        if not isinstance(data, dict):
            raise RiverError(f"{path}: a training config is a mapping of setting names to values")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def frame_dims(self) -> tuple[int, int, int]:
        try:
            w, h, n = (int(x) for x in self.frame_size.lower().split("x"))
        except ValueError:
            raise RiverError(f"frame_size must look like 416x240x24, not {self.frame_size!r}") from None
        return w, h, n


def _arg_type(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _arg_type(args[0])
    if tp is bool:
        return lambda s: str(s).lower() in ("1", "true", "yes", "on")
    return tp


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """CLI flags (one per setting, ``--grpo-steps 20``), over an optional ``--config FILE``."""
    hints = typing.get_type_hints(TrainConfig)
    parser = argparse.ArgumentParser(
        prog="python -m river_agent.rl.train", description=TrainConfig.__doc__, allow_abbrev=False
    )
    parser.add_argument("--config", help="YAML/JSON file of settings; flags override it.")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved settings and exit.")
    for f in fields(TrainConfig):
        default = f.default if f.default is not MISSING else None
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            type=_arg_type(hints[f.name]),
            default=argparse.SUPPRESS,
            help=f"{f.metadata.get('help', '')} (default: {default!r})",
        )
    ns = vars(parser.parse_args(argv))
    path, show = ns.pop("config", None), ns.pop("print_config", False)
    base = TrainConfig.from_file(path).to_dict() if path else {}
    cfg = TrainConfig.from_dict({**base, **ns})
    if show:
        print(json.dumps(cfg.to_dict(), indent=1))
        raise SystemExit(0)
    return cfg
