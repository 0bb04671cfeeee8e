"""GRPO generation on a vLLM server that receives the new LoRA adapter after each optimiser step.

The server must serve the same base model with LoRA enabled and runtime updates allowed (``VLLMServer`` with
``enable_lora=True`` does both; by hand: ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=1 ... --enable-lora
--max-lora-rank 8``). Before each generation, if the trainer stepped since the last one, the live adapter is saved
to ``folder/step-N`` and loaded by the server under the name ``stepN``; rollouts then sample from it through the
litellm backend (``hosted_vllm/stepN``). Older adapters are unloaded by the server's LRU and removed here.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from river_agent.errors import RiverError


class VLLMAdapterSync:
    """``policy_factory(trainer)`` for ``GraphRollouts``: a litellm backend on the server, adapter up to date."""

    def __init__(
        self,
        api_base: str | None,
        folder: str | Path,
        tokenizer: Any,
        served_model: str = "smollm2",
        keep: int = 2,
    ) -> None:
        if not api_base:
            raise RiverError("generator=vllm needs --vllm-url, e.g. http://127.0.0.1:8000/v1")
        self.api_base = api_base
        self.folder = Path(folder)
        self.tokenizer = tokenizer
        self.keep = keep
        self.served_model = served_model
        self.backend: Any = None
        self.synced_step: int | None = None

    def _backend(self) -> Any:
        if self.backend is None:
            from river_agent.backends.litellm_backend import LiteLLMBackend

            # the trainer's tokenizer: exact token ids and the same chat template as training
            self.backend = LiteLLMBackend(
                f"hosted_vllm/{self.served_model}", api_base=self.api_base, tokenizer=self.tokenizer
            )
        return self.backend

    def sync(self, model: Any, step: int) -> Path:
        """Save ``model``'s adapter for ``step`` and have the server load it; returns the adapter folder."""
        from river_agent.fsutil import atomic_dir

        dest = self.folder / f"step-{step}"
        with atomic_dir(dest) as tmp:
            model.save_pretrained(tmp)
        self._backend().load_adapter(dest, f"step{step}")
        self.synced_step = step
        olds = sorted(self.folder.glob("step-*"), key=lambda p: int(p.name.split("-")[1]))
        for old in olds[: max(0, len(olds) - self.keep)]:
            shutil.rmtree(old, ignore_errors=True)
        return dest

    def __call__(self, trainer: Any) -> Any:
        step = int(getattr(trainer.state, "global_step", 0))
        if self.synced_step != step:
            model = trainer.accelerator.unwrap_model(trainer.model)
            self.sync(model, step)
        return self._backend()
