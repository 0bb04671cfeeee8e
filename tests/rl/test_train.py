"""Training end to end on a tiny random-weight policy: SFT warm start, GRPO over graph rollouts, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from river_agent.rl.callbacks import read_log
from river_agent.rl.config import TrainConfig, parse_args
from tests.rl.tiny_policy import tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(tmp_path: Path, **kw) -> TrainConfig:
    base = dict(
        out=str(tmp_path / "run"),
        model=str(tiny_model_dir(tmp_path / "model")),
        train_items=8,
        frame_size="160x96x8",
        sft_epochs=1.0,
        sft_batch=2,
        grpo_steps=2,
        batch=4,
        group=2,
        lr=1e-2,
        save_steps=1,
        threads=1,
        temperature=1.5,
        shaped=True,  # a random policy never earns the paper's rewards: partial credit gives groups a spread
    )
    base.update(kw)
    return TrainConfig(**base)


def _lora_tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.mark.slow
def test_training_changes_the_policy_and_generation_uses_it(tmp_path):
    import torch

    from river_agent.backends.transformers_backend import TransformersBackend, load_model
    from river_agent.rl.train import train

    cfg = tiny_config(tmp_path)
    adapter = train(cfg)
    out = Path(cfg.out)

    # LoRA B matrices start at zero: after SFT + GRPO they are not
    weights = _lora_tensors(adapter)
    assert weights and any(float(t.abs().sum()) > 0 for k, t in weights.items() if "lora_B" in k)
    # GRPO moved the adapter beyond the SFT warm start
    sft = _lora_tensors(out / "sft_adapter")
    assert any(not torch.equal(sft[k], weights[k]) for k in weights)

    # per-step logs: each reward component's mean and spread, KL, completion lengths, zero-spread groups
    grpo = [r for r in read_log(out / "log.jsonl") if r["phase"] == "grpo" and "reward" in r]
    assert [r["step"] for r in grpo] == [1, 2]
    for key in ("rewards/token_reward/mean", "rewards/perf_reward/std", "kl", "frac_reward_zero_std"):
        assert key in grpo[0], key
    assert any(k.startswith("completions/mean_length") for k in grpo[0])
    assert all(r["peak_rss_mb"] > 0 for r in grpo)
    assert (out / "reward_curve.png").stat().st_size > 1000
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    assert len(traces) == 2 * cfg.batch and {t["extra"]["step"] for t in traces} == {0, 1}
    assert all(t["strategy"] == "code" for t in traces)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["grpo_steps"] == 2 and summary["items"] >= 1

    # generation with the adapter differs from the base weights
    model, tok = load_model(cfg.model)
    backend = TransformersBackend(model=__import__("copy").deepcopy(model), tokenizer=tok)
    prompt = tok("<execute>\nprint(find(", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        base_logits = backend.model(torch.tensor([prompt])).logits
        backend.load_adapter(adapter, "policy")
        tuned_logits = backend.model(torch.tensor([prompt])).logits
    assert not torch.allclose(base_logits, tuned_logits)


def test_cli_flags_override_a_config_file(tmp_path):
    f = tmp_path / "train.yaml"
    f.write_text("grpo_steps: 7\nlr: 0.001\nstrategy: staged\n")
    cfg = parse_args(["--config", str(f), "--lr", "0.5", "--hold-out", "false"])
    assert (cfg.grpo_steps, cfg.lr, cfg.strategy, cfg.hold_out) == (7, 0.5, "staged", False)
    assert TrainConfig().lora_rank == 8 and TrainConfig().lr == 5e-7 and TrainConfig().batch == 8  # paper values


def test_bad_settings_are_clear_errors(tmp_path):
    from river_agent.errors import RiverError

    f = tmp_path / "bad.yaml"
    f.write_text("learning_rate_typo: 1\n")
    with pytest.raises(RiverError, match="unknown training settings"):
        parse_args(["--config", str(f)])
    from river_agent.rl.train import main

    assert main(["--out", str(tmp_path / "r"), "--cases", str(tmp_path / "nowhere")]) == 1


def test_micro_batches_split_both_phases_batches():
    from river_agent.errors import RiverError
    from river_agent.rl.train import micro_batches

    assert micro_batches(4, 2, "sft_batch") == (2, 2)  # SFT at batch 4: two passes of 2 (peak RSS under 6 GB)
    assert micro_batches(8, 2, "batch") == (2, 4)
    assert micro_batches(2, 8, "batch") == (2, 1)  # a micro-batch larger than the batch is the batch
    assert micro_batches(4, 0, "batch") == (1, 4)
    with pytest.raises(RiverError, match="sft_batch \\(3\\) must be a multiple of micro_batch \\(2\\)"):
        micro_batches(3, 2, "sft_batch")


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_step_count(tmp_path):
    cfg = tiny_config(tmp_path, grpo_steps=4, sft_epochs=0.0)
    args = [sys.executable, "-m", "river_agent.rl.train"]
    for k, v in cfg.to_dict().items():
        if v is not None:
            args += ["--" + k.replace("_", "-"), str(v)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    out = Path(cfg.out)
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not (out / "grpo" / "checkpoint-2").is_dir():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.time() < deadline, "no checkpoint-2 within 240 s"
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "adapter").exists()  # killed before the end: no final adapter
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=400)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    state = json.loads((out / "grpo" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    steps = [r["step"] for r in read_log(out / "log.jsonl") if r["phase"] == "grpo" and "reward" in r]
    assert max(steps) == 4 and 1 in steps
    assert (out / "adapter" / "adapter_config.json").is_file()
