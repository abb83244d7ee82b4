"""flows.prefect_server.prestart: the flow uses the temporary server started ahead of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.flows.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[2]

# In a clean child process (no PREFECT_API_URL): prestart, import the pipeline meanwhile, wait,
# then run a flow and report which API it talked to and how many temporary servers exist.
# Then, with that server stopped, the same for Dask (nothing prestarted: Prefect starts its own
# for the flow). One child for both (each child pays its imports: was two children, 2 x 19 s).
SCRIPT = """
import json, sys
from exportcast.flows.prefect_server import prestart
wait = prestart("default")
import exportcast.flows.pipeline  # the heavy imports overlap the server's start
wait()
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.server.api.server import SubprocessASGIServer

@flow
def probe() -> str:
    with get_client(sync_client=True) as client:
        return str(client.api_url)

def running():
    return {str(k): s.api_url for k, s in SubprocessASGIServer._instances.items() if s.running}

out = {}
for kind in ("default", "dask"):
    if kind == "dask":
        for server in list(SubprocessASGIServer._instances.values()):
            server.stop()
        stopped = running()
        wait = prestart("dask")
        wait()
    started = running()
    url = probe()
    out[kind] = {"started": started, "flow_api": url, "after": running()}
out["stopped"] = stopped
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def probes() -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=subprocess_env(
            PYTHONPATH=str(ROOT), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180"
        ),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_flow_reuses_the_prestarted_temporary_server(probes) -> None:
    got = probes["default"]
    assert list(got["started"].values()) and len(got["started"]) == 1
    (url,) = got["started"].values()
    assert got["flow_api"].rstrip("/") == url.rstrip("/")
    assert got["after"] == got["started"]  # no second server


def test_nothing_is_prestarted_for_dask(probes) -> None:
    assert probes["stopped"] == {}  # the default part's server is gone
    got = probes["dask"]
    assert got["started"] == {}
    assert got["flow_api"].startswith("http://127.0.0.1:")  # Prefect started its own
    assert [u.rstrip("/") for u in got["after"].values()] == [got["flow_api"].rstrip("/")]
