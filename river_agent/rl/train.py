"""``python -m river_agent.rl.train``: a LoRA policy trained from rollouts of the inference graph.

1. Items: RVE-Synth requests over ground-truth twins made in memory (or any folder of cases), with held-out
   phrasings and the held-out kind dropped (``river_agent.rl.data``).
2. Optional supervised warm start (``--sft-epochs``): reference traces of each item (the compiled twin-API
   program and the right edit, written through the rollout graph by ``rl.demos``) trained with trl's
   SFTTrainer on policy tokens only. A departure from the paper, which starts GRPO from the base model.
3. GRPO (trl's GRPOTrainer) with ``rollout_func`` = the LangGraph rollout (``rl.rollouts``), rewards
   R = alpha (R_token + R_exec + R_dt) + beta R_perf (``rl.rewards``) judged by ``rl.judges``.

Everything lands in ``--out``: ``sft/`` and ``grpo/`` checkpoints (a killed run resumes from the last one when
started again with the same flags), ``adapter/`` (the final LoRA adapter), ``log.jsonl`` (per step: each reward
component's mean and spread, KL, completion lengths, share of zero-spread groups, wall time, peak RSS),
``reward_curve.png``, ``traces.jsonl`` (every GRPO rollout) and ``summary.json``.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from river_agent.errors import RiverError
from river_agent.graphs.rollout import RolloutConfig
from river_agent.rl.config import TrainConfig, parse_args
from river_agent.rl.data import Item, case_items, held_out_reason, synth_items

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

# the linear layers of Llama-style decoders (SmolLM2, Qwen2): 'all-linear' spelt out
LINEAR_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# ---------------------------------------------------------------------------------------------------- items
def build_items(cfg: TrainConfig) -> list[Item]:
    """The training items (held-out ones dropped when ``cfg.hold_out``)."""
    if cfg.cases:
        items = case_items(cfg.cases)
    else:
        w, h, n = cfg.frame_dims()
        items = list(synth_items(cfg.train_seed, cfg.train_items, width=w, height=h, frames=n))
    if cfg.hold_out:
        items = [it for it in items if held_out_reason(it) is None]
    if not items:
        raise RiverError("no training items left after dropping held-out ones")
    return items


def rollout_config(cfg: TrainConfig, temperature: float | None = None) -> RolloutConfig:
    """The rollout settings the policy is trained (and later run) with: lean prompt, no few-shot."""
    return RolloutConfig(
        strategy=cfg.strategy,
        few_shot=False,
        op_stage=False,
        think_tokens=0,
        temperature=cfg.temperature if temperature is None else temperature,
        top_p=1.0,
        constrained=True,
    )


# --------------------------------------------------------------------------------------------------- policy
def load_policy(cfg: TrainConfig) -> tuple[Any, Any]:
    """(peft model with a trainable LoRA adapter, tokenizer)."""
    import copy

    from peft import LoraConfig, PeftModel, get_peft_model

    from river_agent.backends.transformers_backend import load_model

    base, tokenizer = load_model(cfg.model, device=cfg.device)
    base = copy.deepcopy(base)  # the cached model stays untouched for other users in this process
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cfg.resume_adapter:
        model = PeftModel.from_pretrained(base, cfg.resume_adapter, is_trainable=True)
    else:
        targets: Any = cfg.lora_targets if cfg.lora_targets == "all-linear" else cfg.lora_targets.split(",")
        extra: dict[str, Any] = {}
        if cfg.lora_layers > 0:
            n = int(base.config.num_hidden_layers)
            extra["layers_to_transform"] = list(range(max(0, n - cfg.lora_layers), n))
            if targets == "all-linear":  # peft needs module names to restrict layers
                targets = LINEAR_MODULES
        lora = LoraConfig(
            r=cfg.lora_rank,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=0.0,
            target_modules=targets,
            task_type="CAUSAL_LM",
            **extra,
        )
        model = get_peft_model(base, lora)
    model.train()
    return model, tokenizer


def _last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def _save_adapter(model: Any, tokenizer: Any, dest: Path) -> Path:
    """Save the adapter whole or not at all (staged in a sibling, then renamed)."""
    from river_agent.fsutil import atomic_dir

    names = list(getattr(model, "peft_config", {}) or {})
    with atomic_dir(dest) as tmp:
        # only the policy's adapter: trl adds a frozen "ref" copy when it continues a pretrained adapter
        model.save_pretrained(tmp, selected_adapters=["default"] if "default" in names else None)
    return dest


def _common_args(cfg: TrainConfig) -> dict[str, Any]:
    """Trainer arguments both phases share: log every step, keep two checkpoints, our progress bar only."""
    return dict(
        logging_steps=1,
        save_total_limit=2,
        use_cpu=cfg.device == "cpu",
        bf16=False,
        report_to=[],
        seed=cfg.seed,
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def micro_batches(batch: int, micro_batch: int, name: str) -> tuple[int, int]:
    """(sequences per forward/backward pass, passes accumulated per optimiser step) for a batch of ``batch``."""
    micro = max(1, min(micro_batch, batch))
    if batch % micro:
        raise RiverError(f"{name} ({batch}) must be a multiple of micro_batch ({micro})")
    return micro, batch // micro


# ------------------------------------------------------------------------------------------------------ SFT
def sft_dataset(cfg: TrainConfig, items: list[Item], tokenizer: Any) -> tuple[Any, dict[str, int]]:
    """Pre-tokenised SFT rows (input_ids, assistant_masks = 1 on policy tokens) from reference traces; only
    traces whose program printed exactly the target ids and whose edit validated are kept."""
    import numpy as np
    from datasets import Dataset

    from river_agent.graphs.rollout import Rollout, ids_from_output
    from river_agent.rl.demos import demonstrate
    from river_agent.rl.samples import trace_sample

    rcfg = rollout_config(cfg)
    rcfg.constrained = False  # the reference policy needs no grammar
    rng = np.random.default_rng(cfg.seed)
    rows: dict[str, list] = {"input_ids": [], "assistant_masks": []}
    stats = {"items": len(items), "kept": 0, "program_wrong": 0, "invalid": 0}
    for item in items:
        trace = demonstrate(item, lambda p: Rollout(p, rcfg), tokenizer, rng, with_program=cfg.strategy == "code")
        if not trace.valid:
            stats["invalid"] += 1
            continue
        if cfg.strategy == "code":
            outs = [s.sandbox.output for s in trace.segments if s.sandbox is not None and s.sandbox.ok]
            ids = ids_from_output(outs[-1], item.load_twin().object_ids()) if outs else []
            if sorted(ids) != sorted(item.target_ids):
                stats["program_wrong"] += 1
                continue
        s = trace_sample(trace, tokenizer)
        rows["input_ids"].append(s.prompt_ids + s.completion_ids)
        rows["assistant_masks"].append([0] * len(s.prompt_ids) + s.env_mask)
        stats["kept"] += 1
    if not rows["input_ids"]:
        raise RiverError("no usable reference traces for the warm start")
    return Dataset.from_dict(rows), stats


def run_sft(cfg: TrainConfig, model: Any, tokenizer: Any, items: list[Item]) -> Any:
    from trl import SFTConfig, SFTTrainer

    from river_agent.rl.callbacks import RichProgress, StepLog

    out = Path(cfg.out)
    micro, accumulate = micro_batches(cfg.sft_batch, cfg.micro_batch, "sft_batch")
    data, stats = sft_dataset(cfg, items, tokenizer)
    (out / "sft_data.json").write_text(json.dumps(stats, indent=1), encoding="utf-8")
    args = SFTConfig(
        output_dir=str(out / "sft"),
        num_train_epochs=cfg.sft_epochs,
        learning_rate=cfg.sft_lr,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulate,
        lr_scheduler_type="cosine",
        warmup_steps=5,
        save_steps=max(1, cfg.save_steps * 4),
        max_length=None,
        **_common_args(cfg),
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        callbacks=[StepLog(out, "sft"), RichProgress("SFT warm start")],
    )
    trainer.train(resume_from_checkpoint=_last_checkpoint(out / "sft"))
    _save_adapter(trainer.model, tokenizer, out / "sft_adapter")
    return trainer.model


# ----------------------------------------------------------------------------------------------------- GRPO
def _reward_funcs(cfg: TrainConfig) -> tuple[list[Any], list[float]]:
    from river_agent.rl.judges import make_judge
    from river_agent.rl.rewards import RewardConfig, make_reward_funcs

    rcfg = RewardConfig(
        alpha=cfg.alpha_format, beta=cfg.beta_perf, shaped=cfg.shaped, staged_format=cfg.staged_format
    )
    funcs, weights = make_reward_funcs(rcfg, make_judge(cfg.judge))  # they read the edit column's JSON themselves
    return funcs, list(weights)


def grpo_dataset(items: list[Item]) -> Any:
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "prompt": [it.id for it in items],
            "query": [it.query for it in items],
            "level": [it.level for it in items],
            "target_ids": [it.target_ids for it in items],
            "edit": [json.dumps(it.edit) for it in items],
            "case_dir": [it.case_dir or "" for it in items],
        }
    )


def grpo_steps(cfg: TrainConfig, n_items: int) -> int:
    if cfg.grpo_steps >= 0:
        return cfg.grpo_steps
    per_step = max(1, cfg.batch // cfg.group)
    return max(1, round(cfg.grpo_epochs * n_items / per_step))


def run_grpo(cfg: TrainConfig, model: Any, tokenizer: Any, items: list[Item]) -> Any:
    from trl import GRPOConfig, GRPOTrainer

    from river_agent.rl.callbacks import RichProgress, StepLog
    from river_agent.rl.rollouts import GraphRollouts

    out = Path(cfg.out)
    if cfg.batch % cfg.group:
        raise RiverError(f"batch ({cfg.batch}) must be a multiple of group ({cfg.group})")
    micro, accumulate = micro_batches(cfg.batch, cfg.micro_batch, "batch")
    funcs, weights = _reward_funcs(cfg)
    rollouts = GraphRollouts({it.id: it for it in items}, rollout_config(cfg), tokenizer, out / "traces.jsonl")
    policy_factory = None
    if cfg.generator == "vllm":
        from river_agent.rl.vllm_sync import VLLMAdapterSync

        policy_factory = VLLMAdapterSync(cfg.vllm_url, out / "live_adapter", tokenizer, cfg.vllm_model)
        rollouts.policy_factory = policy_factory
    args = GRPOConfig(
        output_dir=str(out / "grpo"),
        max_steps=grpo_steps(cfg, len(items)),
        learning_rate=cfg.lr,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=accumulate,
        num_generations=cfg.group,
        beta=cfg.beta,
        temperature=cfg.temperature,
        reward_weights=weights,
        save_steps=cfg.save_steps,
        remove_unused_columns=False,
        max_completion_length=512,
        **_common_args(cfg),
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=grpo_dataset(items),
        processing_class=tokenizer,
        rollout_func=rollouts,
        callbacks=[StepLog(out, "grpo"), RichProgress("GRPO")],
    )
    trainer.train(resume_from_checkpoint=_last_checkpoint(out / "grpo"))
    return trainer.model


# ----------------------------------------------------------------------------------------------------- main
def train(cfg: TrainConfig) -> Path:
    """Run the whole training; returns the folder of the final adapter."""
    import torch

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1), encoding="utf-8")
    t0 = time.perf_counter()
    items = build_items(cfg)
    model, tokenizer = load_policy(cfg)
    if cfg.sft_epochs > 0:
        if (out / "sft_adapter" / "adapter_config.json").is_file():
            from peft import set_peft_model_state_dict
            from safetensors.torch import load_file

            set_peft_model_state_dict(model, load_file(str(out / "sft_adapter" / "adapter_model.safetensors")))
        else:
            model = run_sft(cfg, model, tokenizer, items)
    steps = grpo_steps(cfg, len(items))
    if steps > 0:
        model = run_grpo(cfg, model, tokenizer, items)
    dest = _save_adapter(model, tokenizer, out / "adapter")
    from river_agent.rl.callbacks import peak_rss_mb

    summary = {
        "items": len(items),
        "grpo_steps": steps,
        "wall_s": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "adapter": str(dest),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    try:
        cfg = parse_args(argv)
        dest = train(cfg)
    except RiverError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: run the same command again to resume from the last checkpoint", file=sys.stderr)
        return 130
    print(f"adapter: {dest}")
    return 0


if __name__ == "__main__":
    shutil.get_terminal_size()  # rich needs a size even without a terminal
    raise SystemExit(main())
