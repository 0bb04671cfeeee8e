"""litellm backend against a local fake OpenAI-compatible server (a test double on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from river_agent.backends import (
    BackendError,
    BackendResponseError,
    BackendUnavailableError,
    SamplingParams,
    get_backend,
)
from river_agent.backends.constraints import RegexConstraint, river_turn_constraint
from river_agent.backends.litellm_backend import LiteLLMBackend


def text_choice(i: int, body: dict) -> dict:
    return {
        "index": i,
        "text": f"answer {i}",
        "finish_reason": "stop",
        "stop_reason": (body.get("stop") or [None])[0],
        "logprobs": {
            "tokens": ["token_id:11", "token_id:12"],
            "token_logprobs": [-0.5, -0.25],
            "top_logprobs": None,
            "text_offset": [0, 6],
        },
        "token_ids": [11, 12 + i],
        "prompt_token_ids": [1, 2, 3],
    }


def chat_choice(i: int, body: dict) -> dict:
    return {
        "index": i,
        "message": {"role": "assistant", "content": "<think>look at id 3</think><edit>[]</edit>"},
        "finish_reason": "stop",
        "logprobs": {"content": [{"token": "token_id:7", "logprob": -0.1, "bytes": None, "top_logprobs": []}]},
    }


class FakeServer:
    """Answers /v1/completions and /v1/chat/completions; ``script`` holds (status, body) overrides in order."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict]] = []
        self.script: list[tuple[int, str | dict]] = []
        self.n_override: int | None = None
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append((self.path, body))
                if fake.script:
                    status, payload = fake.script.pop(0)
                else:
                    n = fake.n_override or body.get("n", 1)
                    make = chat_choice if "chat" in self.path else text_choice
                    obj = "chat.completion" if "chat" in self.path else "text_completion"
                    status, payload = (
                        200,
                        {
                            "id": "x",
                            "object": obj,
                            "created": 1,
                            "model": body["model"],
                            "choices": [make(i, body) for i in range(n)],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                        },
                    )
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[FakeServer]:
    s = FakeServer()
    yield s
    s.close()


def backend(server: FakeServer, **kw) -> LiteLLMBackend:
    return LiteLLMBackend("hosted_vllm/smol", api_base=server.url, retry_base_delay=0.01, **kw)


def test_text_completion_passes_params_and_reads_tokens(server):
    b = backend(server)
    p = SamplingParams(max_tokens=5, n=2, stop=["</execute>"], seed=3, logprobs=True, temperature=0.5, top_p=0.9)
    out = b.generate("prompt text", p)
    path, body = server.requests[-1]
    assert path == "/v1/completions"
    assert body["prompt"] == "prompt text" and body["n"] == 2 and body["stop"] == ["</execute>"]
    assert body["seed"] == 3 and body["max_tokens"] == 5 and body["top_p"] == 0.9 and body["logprobs"] == 1
    assert body["include_stop_str_in_output"] is False and body["return_token_ids"] is True
    assert body["return_tokens_as_token_ids"] is True
    assert [c.text for c in out] == ["answer 0", "answer 1"]
    assert out[1].token_ids == [11, 13] and out[0].logprobs == [-0.5, -0.25]
    assert out[0].stop_sequence == "</execute>" and out[0].finish_reason == "stop"
    assert out[0].prompt_token_ids == [1, 2, 3] and out[0].backend == "litellm" and not out[0].constrained


def test_token_ids_from_token_strings_when_ids_missing(server):
    resp = {"id": "x", "object": "text_completion", "created": 1, "model": "smol", "choices": [text_choice(0, {})]}
    del resp["choices"][0]["token_ids"]
    server.script.append((200, resp))
    out = backend(server).generate("p", SamplingParams(logprobs=True))
    assert out[0].token_ids == [11, 12]


def test_chat_rejoins_think_moved_to_reasoning_content(server):
    out = backend(server).generate([{"role": "user", "content": "edit it"}], SamplingParams(logprobs=True))
    path, body = server.requests[-1]
    assert path == "/v1/chat/completions" and body["messages"][0]["content"] == "edit it"
    c = out[0]
    assert c.text == "<think>look at id 3</think><edit>[]</edit>"
    assert any("reasoning_content" in d for d in c.deviations)
    assert c.token_ids == [7] and c.logprobs == [-0.1]


def test_chat_with_local_tokenizer_is_sent_as_text(server, tiny):
    _, tok = tiny
    b = backend(server, tokenizer=tok)
    b.generate([{"role": "user", "content": "hi"}])
    path, body = server.requests[-1]
    assert path == "/v1/completions" and body["prompt"].endswith("<|im_start|>assistant\n")


def test_transient_errors_are_retried(server):
    server.script += [(503, {"error": "busy"}), (500, {"error": "oops"})]
    out = backend(server, max_retries=3).generate("p")
    assert out[0].text == "answer 0" and len(server.requests) == 3


def test_persistent_server_errors_raise_unavailable(server):
    server.script += [(503, {"error": "busy"})] * 5
    with pytest.raises(BackendUnavailableError, match="unavailable after 2 attempts"):
        backend(server, max_retries=2).generate("p")
    assert len(server.requests) == 2


def test_client_errors_are_not_retried(server):
    server.script.append((400, {"error": {"message": "bad prompt", "type": "invalid_request_error"}}))
    with pytest.raises(BackendError, match="rejected"):
        backend(server).generate("p")
    assert len(server.requests) == 1


def test_garbage_responses_raise_backend_errors(server):
    server.script.append((200, "this is not json"))
    with pytest.raises(BackendResponseError, match="malformed"):
        backend(server, max_retries=3).generate("p")
    assert len(server.requests) == 1  # garbage is not retried
    server.script.append((200, {"id": "x", "object": "text_completion", "choices": [{"index": 0}]}))
    with pytest.raises(BackendResponseError, match="without text"):
        backend(server).generate("p")
    server.script.append((200, {"id": "x", "object": "text_completion", "choices": []}))
    with pytest.raises(BackendResponseError, match="no choices"):
        backend(server).generate("p")
    server.n_override = 1
    with pytest.raises(BackendResponseError, match="1 choices for n=3"):
        backend(server).generate("p", SamplingParams(n=3))


def test_server_down_raises_unavailable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    b = LiteLLMBackend(
        "hosted_vllm/smol", api_base=f"http://127.0.0.1:{port}/v1", max_retries=2, retry_base_delay=0.01, timeout=5
    )
    with pytest.raises(BackendUnavailableError):
        b.generate("p")


def test_agenerate(server):
    out = asyncio.run(backend(server).agenerate("p", SamplingParams(n=2)))
    assert len(out) == 2 and out[1].text == "answer 1"


def test_constraints_become_vllm_structured_outputs(server):
    b = backend(server)
    out = b.generate("p", SamplingParams(), RegexConstraint("a+"))
    assert server.requests[-1][1]["structured_outputs"] == {"regex": "a+"}
    assert out[0].constrained and out[0].constraint == "regex:a+"
    b.generate("p", SamplingParams(), river_turn_constraint([1, 2]))
    assert "%json" in server.requests[-1][1]["structured_outputs"]["grammar"]
    other = LiteLLMBackend("openai/gpt-x", api_base=server.url)
    with pytest.raises(BackendError, match="need a vLLM server"):
        other.generate("p", SamplingParams(), RegexConstraint("a+"))


def test_get_backend_builds_litellm(server):
    b = get_backend({"backend": "litellm", "model": "hosted_vllm/smol", "api_base": server.url})
    assert isinstance(b, LiteLLMBackend) and b.vllm
    with pytest.raises(BackendError, match="provider prefix"):
        LiteLLMBackend("smol")
