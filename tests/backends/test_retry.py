"""Exponential back-off for transient backend failures."""

import pytest

from river_agent.backends.retry import with_retries


def test_retries_transient_with_exponential_delays():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("down")
        return "ok"

    out = with_retries(
        flaky,
        is_transient=lambda e: isinstance(e, ConnectionError),
        attempts=4,
        base_delay=0.5,
        sleep=sleeps.append,
    )
    assert out == "ok" and len(calls) == 3 and sleeps == [0.5, 1.0]


def test_gives_up_and_does_not_retry_permanent_errors():
    sleeps = []
    with pytest.raises(ConnectionError):
        with_retries(
            lambda: (_ for _ in ()).throw(ConnectionError("x")),
            is_transient=lambda e: True,
            attempts=3,
            base_delay=1,
            max_delay=1.5,
            sleep=sleeps.append,
        )
    assert sleeps == [1, 1.5]
    calls = []

    def bad():
        calls.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        with_retries(bad, is_transient=lambda e: isinstance(e, ConnectionError), attempts=5, sleep=sleeps.append)
    assert len(calls) == 1
