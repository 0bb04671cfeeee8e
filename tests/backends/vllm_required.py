"""CI sets RIVER_REQUIRE_VLLM=1 after `make vllm-env`: a missing vLLM venv is then a failure, not a skip."""

import os

import pytest


def skip_or_fail_without_vllm(reason: str) -> None:
    if os.environ.get("RIVER_REQUIRE_VLLM") == "1":
        pytest.fail(f"RIVER_REQUIRE_VLLM=1 but {reason}")
    pytest.skip(reason)
