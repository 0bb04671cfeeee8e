"""Trainer callbacks: per-step JSONL log, the reward-curve PNG and a rich progress bar."""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StepLog(TrainerCallback):
    """Appends each logged step to ``log.jsonl`` (phase, step, every metric trl logs, wall time, peak RSS) and
    redraws ``reward_curve.png`` from it."""

    def __init__(self, out: str | Path, phase: str) -> None:
        self.path = Path(out) / "log.jsonl"
        self.png = Path(out) / "reward_curve.png"
        self.phase = phase
        self.t0 = time.perf_counter()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if not logs:
            return
        rec = {
            "phase": self.phase,
            "step": state.global_step,
            "wall_s": round(time.perf_counter() - self.t0, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            **{k: v for k, v in logs.items() if isinstance(v, int | float | str)},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec) + "\n")
        if self.phase == "grpo":
            try:
                plot_rewards(self.path, self.png)
            except Exception:  # a plot must never stop training
                pass


def read_log(path: str | Path) -> list[dict[str, Any]]:
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def plot_rewards(log: str | Path, png: str | Path) -> Path | None:
    """Reward curve of the GRPO phase: total reward (mean +- std) and each component's mean per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [r for r in read_log(log) if r.get("phase") == "grpo" and "reward" in r]
    if not recs:
        return None
    steps = [r["step"] for r in recs]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    mean = [r["reward"] for r in recs]
    std = [r.get("reward_std", 0.0) for r in recs]
    ax.plot(steps, mean, color="black", label="R (total)")
    ax.fill_between(
        steps,
        [m - s for m, s in zip(mean, std, strict=True)],
        [m + s for m, s in zip(mean, std, strict=True)],
        color="grey",
        alpha=0.25,
    )
    for key in sorted({k for r in recs for k in r if k.startswith("rewards/") and k.endswith("/mean")}):
        ax.plot(steps, [r.get(key) for r in recs], label=key.split("/")[1], lw=1)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("reward")
    ax.legend(fontsize=7)
    ax.set_title("GRPO rewards")
    if any("kl" in r for r in recs):
        ax2.plot(steps, [r.get("kl", 0.0) for r in recs], label="KL", color="tab:red")
    if any("frac_reward_zero_std" in r for r in recs):
        ax2.plot(steps, [r.get("frac_reward_zero_std", 0.0) for r in recs], label="groups with zero spread")
    ax2.set_xlabel("optimiser step")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    png = Path(png)
    tmp = png.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png)
    return png


class RichProgress(TrainerCallback):
    """A rich progress bar over optimiser steps with the latest reward or loss."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.progress: Any = None
        self.task: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
        )
        self.progress.start()
        self.task = self.progress.add_task(self.description, total=state.max_steps, info="")
        self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any) -> None:
        if self.progress is not None and logs:
            parts = [f"{k}={logs[k]:.3f}" for k in ("reward", "loss", "kl") if isinstance(logs.get(k), float)]
            self.progress.update(self.task, info=" ".join(parts))

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
