"""Shared fixtures: where the real upstream data lives, and tiny synthetic panels."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"


def _raw_dir() -> Path:
    return Path(os.environ.get("EXPORTCAST_RAW", ROOT.parent / "shared" / "data" / "raw"))


@pytest.fixture(scope="session")
def raw() -> Path:
    """The real upstream files (../shared/data/raw). Tests using it are marked ``rawdata``."""
    path = _raw_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.skip(f"real upstream data not found at {path} (set EXPORTCAST_RAW)")
    return path


@pytest.fixture
def bad() -> Path:
    """Folder of small hand-made bad inputs, one sub-folder per adapter."""
    return BAD


def make_panel(n_series: int = 4, n_years: int = 20, seed: int = 0) -> pd.DataFrame:
    """A tiny synthetic long frame ``unique_id, ds, y`` of positive annual series."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        level = 100.0 * (i + 1)
        growth = rng.normal(0.03, 0.08, n_years).cumsum()
        y = level * np.exp(growth)
        rows.append(
            pd.DataFrame({"unique_id": f"S{i}", "ds": np.arange(2000, 2000 + n_years), "y": y})
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def panel() -> pd.DataFrame:
    return make_panel()


@pytest.fixture
def chromium_page(tmp_path):
    """A page in headless Debian Chromium (fresh profile), driven by Playwright.

    Yields a namespace with ``page``, ``errors`` (uncaught page exceptions), ``console``
    (console errors), ``requests`` (every URL requested) and ``blocked`` (requests to anything
    but 127.0.0.1, which are aborted: tests never leave the machine).
    """
    from reports.build import BROWSER_ARGS, CHROMIUM

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    def off_machine(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1"

    browser = SimpleNamespace(page=None, errors=[], console=[], requests=[], blocked=[])

    def block(route) -> None:
        browser.blocked.append(route.request.url)
        route.abort()

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=BROWSER_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            context.set_default_timeout(30_000)
            context.route(off_machine, block)
            context.on("request", lambda req: browser.requests.append(req.url))
            page = context.pages[0] if context.pages else context.new_page()
            page.on("pageerror", lambda exc: browser.errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: browser.console.append(msg.text) if msg.type == "error" else None,
            )
            browser.page = page
            yield browser
        finally:
            context.close()
