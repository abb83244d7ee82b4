"""flows.prefect_server: Prefect's temporary server, launched before the run's imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from exportcast.flows.prefect_server import PrefectServerError, TemporaryServer, prestart
from tests.flows.helpers import subprocess_env
from tests.prefect_db import migrated_copy

ROOT = Path(__file__).resolve().parents[2]

# In a clean child process (no PREFECT_API_URL), as `exportcast run` does: prestart, import the
# pipeline meanwhile, wait, then run a flow on that URL and report which API it talked to,
# whether this process imported Prefect's server (it should not: the child does) and the
# server's pid (gone once the child has exited).
SCRIPT = """
import json, sys
from exportcast.flows.prefect_server import prestart
wait = prestart()
import exportcast.flows.pipeline  # the heavy imports overlap the server's start
url = wait()
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings
from exportcast.flows import prefect_server

@flow
def probe() -> str:
    with get_client(sync_client=True) as client:
        return str(client.api_url)

with temporary_settings({PREFECT_API_URL: url}):
    flow_api = probe()
servers = [o for o in __import__("gc").get_objects() if isinstance(o, prefect_server.TemporaryServer)]
print(json.dumps({
    "url": url, "flow_api": flow_api, "pids": [s.process.pid for s in servers],
    "server_imported": "prefect.server.api.server" in sys.modules,
}))
"""


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> dict:
    # a Prefect home of its own with a migrated database (tests/prefect_db.py): on a new
    # machine ~/.prefect/prefect.db would first be migrated (about 7 s), and other tests'
    # children share that file
    home = tmp_path_factory.mktemp("prefect-home")
    migrated_copy(home / "prefect.db")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=subprocess_env(
            PYTHONPATH=str(ROOT), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
            PREFECT_HOME=str(home),
        ),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # the probe child: a server start and a flow, 8-10 s alone
def test_the_flow_runs_on_the_prestarted_server(probe) -> None:
    assert probe["url"].startswith("http://127.0.0.1:") and probe["url"].endswith("/api")
    assert probe["flow_api"].rstrip("/") == probe["url"]
    assert len(probe["pids"]) == 1  # one server, no second one started by Prefect


@pytest.mark.slow  # the probe child: a server start and a flow, 8-10 s alone
def test_the_run_process_never_imports_prefects_server(probe) -> None:
    assert probe["server_imported"] is False


@pytest.mark.slow  # the probe child: a server start and a flow, 8-10 s alone
def test_the_server_stops_when_the_run_exits(probe) -> None:
    (pid,) = probe["pids"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_nothing_is_launched_with_an_api_url_in_the_environment(monkeypatch) -> None:
    def launch(self) -> None:
        raise AssertionError("launched a server")

    monkeypatch.setattr(TemporaryServer, "launch", launch)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    assert prestart()() is None


def test_a_server_launched_before_the_settings_said_no_is_stopped(monkeypatch) -> None:
    # an API URL from a Prefect profile (here: set in code) is only known once Prefect's
    # settings are read, after the launch: wait() stops the server and returns None
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    launched: list[TemporaryServer] = []
    real_launch = TemporaryServer.launch

    def launch(self) -> None:
        launched.append(self)
        real_launch(self)

    monkeypatch.setattr(TemporaryServer, "launch", launch)
    wait = prestart()
    (server,) = launched
    process = server.process
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert wait() is None
    assert process.wait(timeout=10) is not None and server.process is None


def test_nothing_is_started_when_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("EXPORTCAST_NO_PRESTART", "1")
    assert prestart()() is None


def _server_running(code: str) -> TemporaryServer:
    """A TemporaryServer whose child is ``python -c code`` (a real process) on a free port."""
    server = TemporaryServer()
    server.port = 9  # nothing answers there
    server.process = subprocess.Popen(
        [sys.executable, "-c", code], stderr=server._stderr, stdout=subprocess.DEVNULL
    )
    return server


def test_a_server_that_exits_is_a_clear_error_with_its_output() -> None:
    server = _server_running("import sys; sys.stderr.write('database [locked]'); sys.exit(1)")
    with pytest.raises(PrefectServerError, match=r"exited with code 1: database \[locked\]"):
        server.wait(60)


def test_a_server_that_never_answers_times_out_and_is_stopped() -> None:
    server = _server_running("import time; time.sleep(60)")
    process = server.process
    with pytest.raises(PrefectServerError, match=r"did not answer within 0.5 s"):
        server.wait(0.5)
    assert process.wait(timeout=10) is not None  # terminated, not left behind
    assert server.process is None


def _prepare(home: Path, **env: str) -> str:
    """``python -m exportcast.flows.prefect_server`` (what `make install` runs) in ``home``."""
    child_env = subprocess_env(PREFECT_HOME=str(home), **env)
    done = subprocess.run(
        [sys.executable, "-m", "exportcast.flows.prefect_server"],
        cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


@pytest.mark.slow  # three children, one of them Prefect's migration check: 6-8 s
def test_install_migrates_only_the_temporary_servers_own_database(tmp_path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # runs that use a server of their own, or a database elsewhere: nothing is touched
    said = _prepare(home, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert "left alone" in said and not (home / "prefect.db").exists()
    other = tmp_path / "other.db"
    said = _prepare(home, PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{other}")
    assert "left alone" in said and not other.exists() and not (home / "prefect.db").exists()
    assert "sqlite" not in said  # no database URL in the output (it may hold a password)
    # the default: $PREFECT_HOME/prefect.db, migrated (here a migrated copy: the no-op path)
    migrated_copy(home / "prefect.db")
    assert _prepare(home) == f"Prefect database: {home / 'prefect.db'} migrated"


def test_the_temporary_server_skips_block_registration_unless_the_user_set_it():
    from exportcast.flows.prefect_server import _no_block_registration

    assert _no_block_registration({}) == {
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "false",
        "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
    }
    # a value the user set, under the setting's name or its older alias, is theirs
    assert _no_block_registration({"PREFECT_API_BLOCKS_REGISTER_ON_START": "true"}) == {
        "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false"
    }
    assert _no_block_registration({
        "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": "true",
        "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "true",
    }) == {}  # fmt: skip
