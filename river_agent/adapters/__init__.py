"""LoRA adapters shipped with the package (trained by ``python -m river_agent.rl.train``).

``smollm2-code/``: the adapter of the embedded SmolLM2-135M-Instruct for the ``code`` strategy (one twin-API
program, then the edit), trained on CPU by SFT on compiled programs; ``AgentConfig(adapter="auto")`` loads it.
docs/training.md says how it was trained, what it reaches on held-back cases, and how to replace it.
"""

from __future__ import annotations

from pathlib import Path

ADAPTER_DIR = Path(__file__).parent
EMBEDDED_ADAPTER = "smollm2-code"


def embedded_adapter() -> Path | None:
    """The shipped adapter of the embedded model, or None when this build has none."""
    path = ADAPTER_DIR / EMBEDDED_ADAPTER
    return path if (path / "adapter_config.json").is_file() else None
