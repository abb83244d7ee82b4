"""flows.prefect_server.prestart: the flow uses the temporary server started ahead of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.flows.helpers import subprocess_env

ROOT = Path(__file__).resolve().parents[2]

# In a clean child process (no PREFECT_API_URL): prestart, import the pipeline meanwhile, wait,
# then run a flow and report which API it talked to and how many temporary servers exist.
SCRIPT = """
import json, sys
from exportcast.flows.prefect_server import prestart
wait = prestart(sys.argv[1])
import exportcast.flows.pipeline  # the heavy imports overlap the server's start
wait()
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.server.api.server import SubprocessASGIServer

@flow
def probe() -> str:
    with get_client(sync_client=True) as client:
        return str(client.api_url)

started = {k: s.api_url for k, s in SubprocessASGIServer._instances.items() if s.running}
url = probe()
after = {k: s.api_url for k, s in SubprocessASGIServer._instances.items() if s.running}
print(json.dumps({"started": started, "flow_api": url, "after": after}))
"""


def _probe(kind: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, kind], cwd=ROOT, env=subprocess_env(
            PYTHONPATH=str(ROOT), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180"
        ),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_flow_reuses_the_prestarted_temporary_server() -> None:
    got = _probe("default")
    assert list(got["started"].values()) and len(got["started"]) == 1
    (url,) = got["started"].values()
    assert got["flow_api"].rstrip("/") == url.rstrip("/")
    assert got["after"] == got["started"]  # no second server


def test_nothing_is_prestarted_for_dask() -> None:
    got = _probe("dask")
    assert got["started"] == {}
    assert got["flow_api"].startswith("http://127.0.0.1:")  # Prefect started its own
