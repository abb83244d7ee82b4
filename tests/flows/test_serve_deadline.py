"""The SIGTERM exit deadline of `exportcast serve` (a guard against a lingering runner)."""

import subprocess
import sys

CODE = """
import time
from types import SimpleNamespace
from exportcast.flows.serve import _exit_deadline

calls = []
runner = SimpleNamespace(handle_sigterm=lambda *a: calls.append(a))
_exit_deadline(runner, 1.0, print)
runner.handle_sigterm(15, None)
assert calls == [(15, None)], calls  # Prefect's graceful handler still runs
print("graceful part done", flush=True)
time.sleep(60)  # a runner that never returns
print("not reached")
"""


def test_process_exits_with_0_after_the_deadline():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "graceful part done" in out.stdout
    assert "still alive 1 s after SIGTERM; exiting" in out.stdout
    assert "not reached" not in out.stdout  # (and well before its 60 s sleep: timeout=30)
