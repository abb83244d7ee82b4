"""The ``exportcast`` command fixes Python's string-hash seed before it starts (flows/entry.py)."""

import os
import subprocess
import sys

PROBE = (
    "from exportcast.flows.entry import fixed_hash_seed; fixed_hash_seed(); "
    "import os; print(os.getpid(), os.environ['PYTHONHASHSEED'], hash('exportcast'), "
    "list({'KOR', 'CHN', 'USA', 'JPN', 'VNM', 'KHM'}))"
)


def _probe(seed: str | None) -> tuple[str, str, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    if seed is not None:
        env["PYTHONHASHSEED"] = seed
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE], env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    pid, got_seed, value, order = out.strip().split(" ", 3)
    assert int(pid) == child.pid  # re-executed in place: the same process
    return pid, got_seed, value, order


def test_the_seed_is_fixed_so_set_order_is_the_same_in_every_process() -> None:
    runs = [_probe(None) for _ in range(3)]
    assert {r[1] for r in runs} == {"0"}
    assert len({(r[2], r[3]) for r in runs}) == 1  # the same hashes, the same set order
    # the command's fixed seed is the explicit seed 0
    assert _probe("0")[2:] == runs[0][2:]


def test_a_seed_the_user_set_wins() -> None:
    salted = [_probe("random") for _ in range(3)]
    assert {r[1] for r in salted} == {"random"}
    assert len({r[2] for r in salted}) == 3  # salted per process: three different hashes
    assert _probe("7")[1] == "7"
