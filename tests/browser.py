"""A real headless browser for page tests: Playwright driving Debian's chromium (``make browser`` installs it).

Without a browser the tests skip, saying why; CI sets RIVER_REQUIRE_BROWSER=1, which turns the skip into a
failure (as RIVER_REQUIRE_VLLM does for the vLLM server tests).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

# flags that work on the project's machines (no GPU, root, no network besides the package registries)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def skip_or_fail_without_browser(reason: str) -> None:
    if os.environ.get("RIVER_REQUIRE_BROWSER") == "1":
        pytest.fail(f"RIVER_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def chromium_path() -> Path | None:
    """RIVER_CHROMIUM, else Debian's /usr/bin/chromium, else a chromium on PATH."""
    for cand in (os.environ.get("RIVER_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return Path(cand)
    return None


@contextmanager
def browser_page(width: int = 1200, height: int = 900) -> Iterator[Any]:
    """A Playwright page in headless chromium; skips (or fails under RIVER_REQUIRE_BROWSER=1) without one."""
    exe = chromium_path()
    if exe is None:
        skip_or_fail_without_browser("no chromium (run `make browser`, or set RIVER_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail_without_browser("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(exe), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
