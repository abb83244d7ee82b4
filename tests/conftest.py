"""Shared fixtures (real upstream data, tiny synthetic panels, Chromium, the Prefect test server)
and the test tiers.

Every test gets exactly one tier marker, assigned here at collection (docs/testing.md):

- ``e2e``: runs the whole flow (``run_pipeline`` / ``forecast_exports``, the CLI's ``run``,
  ``scenario`` or ``serve``) or one scenario end to end (``run_scenario``), in its body, in a
  helper of its module or through a fixture, or drives a browser (``chromium_page``);
- ``integration``: talks to real services or child processes (the Prefect test server, an
  ``mlflow server``, ``subprocess``, Chromium printing a PDF, the real upstream files) but does
  not run the whole flow;
- ``unit``: everything else.

A tier set by hand (``@pytest.mark.unit`` / ``integration`` / ``e2e`` on the test, its class
or its module) wins over the detection. Tests that run the whole flow get the session's
Prefect test server (``prefect_harness``) without asking; other tests that call a Prefect flow
or task request it themselves. ``make test-fast`` is ``-m "not e2e"``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "data" / "bad"

# Property tests check values, never speed: Hypothesis' default 200 ms deadline per example
# failed on a busy 2-core machine (a first call of 272 ms). Timing goals live in benchmarks/.
settings.register_profile("exportcast", deadline=None)
settings.load_profile("exportcast")

# The FTA track record in a second process (flows/ahead.py) pays off only on a free core; a
# test worker has none (the other worker is busy), and with the machine's load deciding, a run
# would take one path or the other by chance. Off for the session and its children, unless a
# test sets it: tests/flows/test_default_run.py compares both paths.
os.environ.setdefault("EXPORTCAST_AHEAD", "0")

TIERS = ("unit", "integration", "e2e")
# the whole job: the pipeline flow, or the CLI commands that run it (not their --help); these
# need the Prefect test server
WHOLE_FLOW = re.compile(
    r"\b(?:run_pipeline|forecast_exports)\("
    r"""|\[\s*["'](?:run|scenario|serve)["']\s*,(?!\s*["']--help["'])"""
)
# one scenario end to end (baseline engine runs at its origin, gravity, paths): no Prefect
WHOLE_SCENARIO = re.compile(r"\brun_scenario\(")
# real services and processes short of the whole flow (Chromium printing a report's PDF too)
SERVICES = re.compile(
    r"\bsubprocess\.|\bPopen\(|\bsys\.executable\b|\bmultiprocessing\.|\.Process\("
    r"|\b(?:build_report|write_pdf|PdfPrinter)\("
)
BROWSER_FIXTURES = {"chromium_page"}
SERVICE_FIXTURES = {"prefect_harness", "prefect_api_url", "prefect_server", "mlflow_server", "raw"}
# Session runs read by tests in several files (tests/flows/conftest.py), with a rough cost:
# the tests that read one share an xdist group, so under `--dist loadgroup` it is made once.
SHARED_RUNS = {"fast_run": 30.0, "quiet_cli_run": 30.0, "report_run": 100.0}
# A rough cost (seconds on two idle cores), only to start the heaviest xdist groups first: a
# test by what it does itself, plus each shared run once per group.
COST = {"flow": 20.0, "integration": 2.0, "unit": 0.1, "slow": 30.0, "slow_flow": 120.0}


@functools.cache
def _source(func) -> str:
    try:
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


@functools.cache
def _with_helpers(func, module) -> str:
    """The source of ``func`` and of the functions of its test module it calls (recursively)."""
    seen: set = set()
    todo, out = [func], []
    while todo:
        src = _source(todo.pop())
        out.append(src)
        for name in re.findall(r"\b(_?[A-Za-z]\w*)\(", src):
            helper = getattr(module, name, None)
            own = inspect.isfunction(helper) and helper.__module__ == module.__name__
            if own and helper not in seen:
                seen.add(helper)
                todo.append(helper)
    return "\n".join(out)


@functools.cache
def _kinds(source: str) -> tuple[bool, bool, bool]:
    """(whole flow, one scenario end to end, services) found in ``source``."""
    return (
        bool(WHOLE_FLOW.search(source)),
        bool(WHOLE_SCENARIO.search(source)),
        bool(SERVICES.search(source)),
    )


def _sources(item) -> list[str]:
    """The test's source, its module's helpers it calls, and the fixtures it uses from tests/."""
    module = getattr(item, "module", None)
    func = getattr(item, "function", None)
    out = [_with_helpers(func, module) if module is not None else _source(func)]
    for name in item.fixturenames:
        for fixturedef in item._fixtureinfo.name2fixturedefs.get(name, ()):
            fixture_module = inspect.getmodule(fixturedef.func)
            if fixture_module is not None and fixture_module.__name__.startswith("tests"):
                out.append(_with_helpers(fixturedef.func, fixture_module))
    return out


def _detected_tier(item) -> tuple[str, bool]:
    """(tier, runs the whole flow) from the test's fixtures and source."""
    kinds = [_kinds(src) for src in _sources(item)]
    whole_flow = any(k[0] for k in kinds)
    if whole_flow or any(k[1] for k in kinds) or BROWSER_FIXTURES & set(item.fixturenames):
        return "e2e", whole_flow
    if SERVICE_FIXTURES & set(item.fixturenames) or item.get_closest_marker("rawdata"):
        return "integration", False
    if any(k[2] for k in kinds):
        return "integration", False
    return "unit", False


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by these markers
def pytest_collection_modifyitems(config, items) -> None:
    """Give each test one tier marker; the whole flow also gets the Prefect test server.

    A tier marked by hand wins, and then the test asks for ``prefect_harness`` itself if it
    needs it (e.g. a CLI call that stops at a bad config before any flow starts is ``unit``).
    """
    for item in items:
        chosen = [t for t in TIERS if item.get_closest_marker(t)]
        if len(chosen) > 1:
            raise pytest.UsageError(f"{item.nodeid}: more than one tier marker {chosen}")
        if chosen:
            continue
        tier, whole_flow = _detected_tier(item)
        item.add_marker(tier)
        if whole_flow and "prefect_harness" not in item.fixturenames:
            item.fixturenames.insert(0, "prefect_harness")
    _group_for_xdist(items)
    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        _suffix_groups(items)


def _suffix_groups(items: list) -> None:
    """Append ``@<group>`` to each node id, which is how xdist's loadgroup scheduler groups.

    pytest-xdist 3.8 does it by setting ``item._nodeid``, which pytest 9.2 no longer reads (the
    id is ``item._id``): there every test was scheduled on its own, as with ``--dist load``,
    and module fixtures and shared runs were built on both workers.
    """
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # pytest before 9.2: xdist's own suffix works
        return
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is not None and "@" not in item.nodeid.rsplit("::", 1)[-1]:
            name = marker.args[0] if marker.args else marker.kwargs.get("name", "default")
            item._id = coerce_node_id(f"{item.nodeid}@{name}")


def _cost(item) -> float:
    """What the test costs by itself (a shared run it reads is counted once per group)."""
    module = getattr(item, "module", None)
    func = getattr(item, "function", None)
    own = _kinds(_with_helpers(func, module) if module is not None else _source(func))
    if item.get_closest_marker("slow"):
        # a slow whole flow, detected or marked e2e by hand (child processes running it)
        return COST["slow_flow" if own[0] or item.get_closest_marker("e2e") else "slow"]
    if own[0] or own[1] or BROWSER_FIXTURES & set(item.fixturenames):
        return COST["flow"]
    if item.get_closest_marker("e2e") and not any(n in item.fixturenames for n in SHARED_RUNS):
        return COST["flow"]  # marked by hand (e.g. a `serve` child process)
    return COST["unit" if item.get_closest_marker("unit") else "integration"]


def _narrow_fixtures(item) -> bool:
    """Whether the test uses a module-, class- or package-scoped fixture."""
    defs = item._fixtureinfo.name2fixturedefs.values()
    return any(
        d.scope in ("module", "class", "package") for fixturedefs in defs for d in fixturedefs
    )


def _group_for_xdist(items: list) -> None:
    """Give each test an ``xdist_group`` and put the heaviest groups first.

    A test that reads a shared session run (``SHARED_RUNS``) joins that run's group, so under
    ``-n 2 --dist loadgroup`` the run is made on one worker only; any other test's group is its
    file (its module fixtures are built once). A file with module or class fixtures stays in
    one group, joined with the runs its tests read. The groups run from the heaviest (by
    ``_cost``) down, so that a long whole-flow group does not start last
    (``--no-loadscope-reorder`` keeps this order). A group written by hand
    (``@pytest.mark.xdist_group("name")``) wins.
    """
    parent: dict[str, str] = {}

    def find(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    def union(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    def file_of(item) -> str:
        return item.nodeid.split("::", 1)[0]

    def shared(item) -> list[str]:
        return [name for name in SHARED_RUNS if name in item.fixturenames]

    narrow_files = {file_of(item) for item in items if _narrow_fixtures(item)}
    for item in items:
        runs = shared(item)
        for other in runs:
            union(other, runs[0])
        if runs and file_of(item) in narrow_files:
            union(file_of(item), runs[0])
    names = {}
    for key in list(parent):
        runs = sorted(k for k in SHARED_RUNS if k in parent and find(k) == find(key))
        names[find(key)] = "+".join(runs) if runs else find(key)
    weight: dict[str, float] = {}
    group_of: dict[int, str] = {}
    for item in items:
        marker = item.get_closest_marker("xdist_group")
        if marker is None:
            runs = shared(item)
            root = find(runs[0] if runs else file_of(item))
            name = names.get(root, root)
            item.add_marker(pytest.mark.xdist_group(name))
        else:
            name = str(marker.args[0] if marker.args else marker.kwargs.get("name", "default"))
        group_of[id(item)] = name
        weight[name] = weight.get(name, 0.0) + _cost(item)
    for name in SHARED_RUNS:
        if name in parent:
            group = names[find(name)]
            weight[group] = weight.get(group, 0.0) + SHARED_RUNS[name]
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        first.setdefault(group_of[id(item)], i)
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda it: (-weight[group_of[id(it)]], first[group_of[id(it)]], order[id(it)]))


@pytest.fixture(scope="session")
def prefect_api_url(prefect_harness) -> str:
    """The URL of the session's Prefect test server, for child processes (``PREFECT_API_URL``):
    a child given it does not start a temporary server of its own (10-20 s each)."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url and urlsplit(url).hostname == "127.0.0.1", url
    return url


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """A temporary Prefect API: a throwaway server on its own SQLite database, started once per
    session (xdist worker) by the first test that needs it, stopped at the session's end.

    What ``prefect.testing.utilities.prefect_test_harness`` does, with two differences: the
    database is a copy of a migrated template (tests/prefect_db.py: the server answers after
    about 4 s instead of 11 s on a new file), and the server is launched the way the product
    launches Prefect's temporary server (:class:`flows.prefect_server.TemporaryServer`: the
    same uvicorn command, 127.0.0.1), so this process does not import Prefect's server.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from exportcast.flows.prefect_server import TemporaryServer
    from tests.prefect_db import database_url

    db = database_url(tmp_path_factory.mktemp("prefect-api") / "prefect-test.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no network in tests
        mp.setenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", db)  # read by the child at launch
        server = TemporaryServer()
        server.launch()
        try:
            url = server.wait(timeout=180)
            mp.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL")
            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield
                _drain_prefect_workers()
        finally:
            server.stop()


def _drain_prefect_workers() -> None:
    """Send the logs and events still queued to the server before it stops (as Prefect's
    harness does): otherwise their workers meet a closed port at exit."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):  # never started
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


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


def make_origin_histories(*, shuffle: bool = False) -> pd.DataFrame:
    """Tiny histories as known at origins 2005-2007 (``unique_id, cutoff, ds, y``), three
    series each, with three years after the cutoff as actuals; rows shuffled if asked."""
    rng = np.random.default_rng(3)
    rows = []
    for cutoff in (2005, 2006, 2007):
        for uid, start in (("KOR|A", 1990), ("KOR|B", 1995), ("KOR|REST", 1990)):
            years = np.arange(start, cutoff + 4)
            rows.append(
                pd.DataFrame(
                    {"unique_id": uid, "cutoff": cutoff, "ds": years,
                     "y": rng.lognormal(5, 0.3, len(years)).cumsum()}
                )
            )  # fmt: skip
    out = pd.concat(rows, ignore_index=True)
    return out.sample(frac=1.0, random_state=0) if shuffle else out


@pytest.fixture
def chromium_page(tmp_path):
    """A page in headless Debian Chromium (fresh profile), driven by Playwright.

    Yields a namespace with ``page``, ``errors`` (uncaught page exceptions), ``console``
    (console errors), ``requests`` (every URL requested) and ``blocked`` (requests to anything
    but 127.0.0.1, which are aborted: tests never leave the machine).
    """
    from exportcast.reports.build import BROWSER_ARGS, CHROMIUM

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
