"""litellm backend: any provider litellm knows (``openai/...``, ``hosted_vllm/NAME`` with ``api_base``, ...).

Text prompts go to the text-completion endpoint; chat messages go to the chat endpoint, or, when a local
tokenizer is given, are rendered with its chat template and sent as text (exact prompt tokens). For vLLM
servers (``hosted_vllm/``) the request asks for generated token ids, their log-probabilities and vLLM's own
stop handling (``include_stop_str_in_output``), and constraints travel as vLLM structured outputs.

litellm moves a leading ``<think>...</think>`` of a chat answer into ``reasoning_content``; it is joined back
and the completion records the deviation. Transient failures (connection refused, timeouts, 429, 5xx) are
retried with exponential back-off; anything else becomes a BackendError at once.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from river_agent.backends.base import (
    BackendError,
    BackendResponseError,
    BackendUnavailableError,
    Completion,
    LLMBackend,
    Prompt,
    SamplingParams,
    is_messages,
)
from river_agent.backends.constraints import Constraint, JsonSchemaConstraint, RegexConstraint
from river_agent.backends.retry import with_retries

_TOKEN_ID = re.compile(r"^token_id:(\d+)$")


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except ImportError as e:  # pragma: no cover
        raise BackendUnavailableError("the litellm backend needs 'litellm': pip install litellm") from e
    litellm.suppress_debug_info = True
    return litellm


def _is_garbage(e: BaseException) -> bool:
    msg = str(e)
    return "Expecting value" in msg or "JSONDecodeError" in msg or "Unterminated string" in msg


def is_transient(e: BaseException) -> bool:
    """Whether an error from litellm is worth retrying (not malformed answers: those repeat)."""
    if _is_garbage(e):
        return False
    litellm = _litellm()
    ex = litellm.exceptions
    transient = (
        ex.APIConnectionError,
        ex.Timeout,
        ex.RateLimitError,
        ex.ServiceUnavailableError,
        ex.InternalServerError,
    )
    if isinstance(e, transient):
        return True
    status = getattr(e, "status_code", None)
    return isinstance(status, int) and (status == 429 or status >= 500)


class LiteLLMBackend(LLMBackend):
    """Generation through litellm. ``model`` is litellm's name, e.g. ``hosted_vllm/smollm2``."""

    name = "litellm"
    supports_constraints = True

    def __init__(
        self,
        model: str,
        *,
        api_base: str | None = None,
        api_key: str | None = None,
        tokenizer: str | Path | Any | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        retry_base_delay: float = 0.5,
        vllm: bool | None = None,
        extra_body: dict[str, Any] | None = None,
    ):
        if not model or "/" not in model:
            raise BackendError(
                f"litellm model {model!r} needs a provider prefix, e.g. 'hosted_vllm/NAME' or 'openai/gpt-4o-mini'"
            )
        self.model = model
        self.api_base = api_base
        self.api_key = api_key if api_key is not None else ("EMPTY" if api_base else None)
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_base_delay = retry_base_delay
        self.vllm = model.startswith("hosted_vllm/") if vllm is None else vllm
        self.extra_body = dict(extra_body or {})
        self._tokenizer = _load_tokenizer(tokenizer)
        self.base_model = model
        self._adapter: str | None = None
        self.supports_adapters = self.vllm

    # -- adapters (vLLM serves each LoRA adapter under its own model name) -------------------------------
    def load_adapter(self, path: str | Path, name: str) -> None:
        """Ask the vLLM server to load a LoRA adapter (server started with --enable-lora and
        VLLM_ALLOW_RUNTIME_LORA_UPDATING=1); adapters given at start-up (--lora-modules) need no loading."""
        if not self.vllm or not self.api_base:
            raise BackendError(
                f"LoRA adapters through litellm need a vLLM server with api_base, not {self.model!r}"
            )
        import json
        import urllib.error
        import urllib.request

        root = self.api_base.rstrip("/").removesuffix("/v1")
        req = urllib.request.Request(
            f"{root}/v1/load_lora_adapter",
            data=json.dumps({"lora_name": name, "lora_path": str(path)}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                r.read()
        except urllib.error.HTTPError as e:
            raise BackendError(
                f"vLLM refused adapter {name!r} from {path}: {e.read().decode(errors='replace')}"
            ) from e
        except (urllib.error.URLError, OSError) as e:
            raise BackendUnavailableError(f"cannot reach {root} to load adapter {name!r}: {e}") from e
        self.set_adapter(name)

    def set_adapter(self, name: str | None) -> None:
        if not self.vllm:
            raise BackendError(f"LoRA adapters through litellm need a vLLM server, not {self.model!r}")
        self._adapter = name
        self.model = self.base_model if name is None else f"hosted_vllm/{name}"

    @property
    def active_adapter(self) -> str | None:
        return self._adapter

    @property
    def tokenizer(self) -> Any | None:
        return self._tokenizer

    # -- request building --------------------------------------------------------------------------------
    def _request(self, prompt: Prompt, params: SamplingParams, constraint: Constraint | None) -> tuple[str, dict]:
        chat = is_messages(prompt)
        if chat and self._tokenizer is not None and getattr(self._tokenizer, "chat_template", None):
            prompt, chat = self.apply_chat_template(prompt), False  # type: ignore[arg-type]
        kw: dict[str, Any] = dict(
            model=self.model,
            n=params.n,
            max_tokens=params.max_tokens,
            temperature=params.temperature,
            timeout=self.timeout,
            max_retries=0,  # retries are ours (with back-off), not the HTTP client's
        )
        if params.top_p < 1:
            kw["top_p"] = params.top_p
        if params.stop:
            kw["stop"] = list(params.stop)
        if params.seed is not None:
            kw["seed"] = params.seed
        if self.api_base:
            kw["api_base"] = self.api_base
        if self.api_key:
            kw["api_key"] = self.api_key
        if chat:
            kw["messages"] = prompt
            if params.logprobs:
                kw["logprobs"] = True
        else:
            kw["prompt"] = prompt
            if params.logprobs:
                kw["logprobs"] = 1
        extra = dict(self.extra_body)
        if self.vllm:
            extra.update(
                include_stop_str_in_output=params.include_stop_str_in_output,
                skip_special_tokens=True,
                return_token_ids=True,
            )
            if params.logprobs:
                extra["return_tokens_as_token_ids"] = True
        if constraint is not None:
            if not self.vllm:
                raise BackendError(
                    f"constraints through litellm need a vLLM server (hosted_vllm/...), not {self.model!r}"
                )
            extra["structured_outputs"] = _structured_outputs(constraint)
        if extra:
            kw["extra_body"] = extra
        return ("chat" if chat else "text"), kw

    # -- generation --------------------------------------------------------------------------------------
    def generate(
        self, prompt: Prompt, params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Completion]:
        params = params or SamplingParams()
        kind, kw = self._request(prompt, params, constraint)
        litellm = _litellm()
        call = litellm.completion if kind == "chat" else litellm.text_completion
        try:
            resp = with_retries(
                lambda: call(**kw),
                is_transient=is_transient,
                attempts=self.max_retries,
                base_delay=self.retry_base_delay,
            )
        except BackendError:
            raise
        except Exception as e:
            raise self._wrap(e) from e
        return self._parse(resp, kind, params, constraint)

    async def agenerate(
        self, prompt: Prompt, params: SamplingParams | None = None, constraint: Constraint | None = None
    ) -> list[Completion]:
        params = params or SamplingParams()
        kind, kw = self._request(prompt, params, constraint)
        litellm = _litellm()
        call = litellm.acompletion if kind == "chat" else litellm.atext_completion
        attempts = max(1, self.max_retries)
        for k in range(attempts):
            try:
                resp = await call(**kw)
                break
            except Exception as e:
                if k < attempts - 1 and is_transient(e):
                    await asyncio.sleep(min(8.0, self.retry_base_delay * 2**k))
                    continue
                raise self._wrap(e) from e
        return self._parse(resp, kind, params, constraint)

    def _wrap(self, e: Exception) -> BackendError:
        where = f"{self.model} at {self.api_base}" if self.api_base else self.model
        if _is_garbage(e):
            return BackendResponseError(f"{where} returned a malformed response: {e}")
        if is_transient(e):
            return BackendUnavailableError(f"{where} is unavailable after {self.max_retries} attempts: {e}")
        return BackendError(f"{where} rejected the request: {type(e).__name__}: {e}")

    # -- response parsing --------------------------------------------------------------------------------
    def _parse(
        self, resp: Any, kind: str, params: SamplingParams, constraint: Constraint | None
    ) -> list[Completion]:
        choices = getattr(resp, "choices", None)
        if not choices:
            raise BackendResponseError(f"{self.model} returned no choices: {str(resp)[:300]}")
        if len(choices) != params.n:
            raise BackendResponseError(f"{self.model} returned {len(choices)} choices for n={params.n}")
        prompt_ids = _get(resp, "prompt_token_ids") or _get(choices[0], "prompt_token_ids")
        return [self._parse_choice(c, kind, params, constraint, prompt_ids) for c in choices]

    def _parse_choice(
        self, c: Any, kind: str, params: SamplingParams, constraint: Constraint | None, prompt_ids: Any
    ) -> Completion:
        deviations: list[str] = []
        if kind == "chat":
            msg = _get(c, "message")
            text = _get(msg, "content")
            reasoning = _get(msg, "reasoning_content")
            if text is None and not reasoning:
                raise BackendResponseError(f"{self.model} returned a chat choice without content: {str(c)[:300]}")
            text = text or ""
            if reasoning:
                text = f"<think>{reasoning}</think>{text}"
                deviations.append("litellm moved <think>...</think> into reasoning_content; re-joined")
            lp_content = _get(_get(c, "logprobs"), "content") or []
            tokens = [_get(t, "token") for t in lp_content]
            logprobs = [float(_get(t, "logprob")) for t in lp_content] if lp_content else None
        else:
            text = _get(c, "text")
            if not isinstance(text, str):
                raise BackendResponseError(f"{self.model} returned a choice without text: {str(c)[:300]}")
            lp = _get(c, "logprobs")
            tokens = list(_get(lp, "tokens") or [])
            raw = _get(lp, "token_logprobs")
            logprobs = [float(x) if x is not None else float("nan") for x in raw] if raw else None
        token_ids = _get(c, "token_ids")
        if token_ids is None and tokens and all(isinstance(t, str) and _TOKEN_ID.match(t) for t in tokens):
            token_ids = [int(_TOKEN_ID.match(t).group(1)) for t in tokens]  # type: ignore[union-attr]
        if token_ids is not None:
            token_ids = [int(t) for t in token_ids]
        if not params.logprobs:
            logprobs = None
        elif logprobs is None:
            deviations.append("the server returned no logprobs")
        elif token_ids is not None and len(logprobs) != len(token_ids):
            deviations.append(f"{len(logprobs)} logprobs for {len(token_ids)} tokens")
        finish = _get(c, "finish_reason") or "stop"
        stop_reason = _get(c, "stop_reason")
        hit = stop_reason if isinstance(stop_reason, str) and stop_reason in params.stop else None
        if hit is None and finish == "stop" and params.stop and params.include_stop_str_in_output:
            hit = next((s for s in params.stop if text.endswith(s)), None)
        if params.include_stop_str_in_output and not self.vllm:
            deviations.append("include_stop_str_in_output is not supported by this provider")
        return Completion(
            text=text,
            token_ids=token_ids,
            logprobs=logprobs,
            finish_reason=str(finish),
            stop_sequence=hit,
            prompt_token_ids=[int(t) for t in prompt_ids] if prompt_ids else None,
            constrained=constraint is not None,
            constraint=constraint.describe() if constraint is not None else None,
            backend=self.name,
            deviations=deviations,
        )


def _structured_outputs(constraint: Constraint) -> dict[str, Any]:
    """vLLM ``structured_outputs`` for a constraint (the server should use the 'guidance' backend)."""
    if isinstance(constraint, RegexConstraint):
        return {"regex": constraint.pattern}
    if isinstance(constraint, JsonSchemaConstraint):
        return {"json": constraint.schema}
    return {"grammar": constraint.lark()}


def _get(obj: Any, key: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    val = getattr(obj, key, None)
    if val is None and hasattr(obj, "get"):
        try:
            val = obj.get(key)
        except Exception:
            val = None
    return val


def _load_tokenizer(tokenizer: str | Path | Any | None) -> Any | None:
    if tokenizer is None or not isinstance(tokenizer, str | Path):
        return tokenizer
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(tokenizer))
    except (OSError, ValueError) as e:
        raise BackendError(f"cannot load a tokenizer from {tokenizer}: {e}") from e
