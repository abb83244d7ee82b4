"""Command start-up: wall and CPU seconds of quick `exportcast` commands (issue 16, item 3).

Run: ``.venv/bin/python benchmarks/cli_startup.py [--repeat 5] [--no-runs]``.

Each command runs ``--repeat`` times as a new process, exactly as the ``exportcast`` console
script starts it (``from exportcast.flows.entry import main; main()``: the hash seed fixed, by
re-executing itself once when ``PYTHONHASHSEED`` is unset, then the CLI) with this checkout first on the path,
after one unrecorded warm-up run (it fills the OS file cache and, for ``runs``, creates the
MLflow store). The table gives the median wall seconds and the median CPU seconds (user + sys
of the child process, less sensitive than wall time to other work on a shared machine).
``python -c pass`` is measured in the same run as the floor any command pays.

``exportcast runs`` lists a throwaway MLflow store (SQLite in a temporary folder, so the
project's ``mlruns/`` is never touched) holding one run in ``exportcast-KOR``, made before the
timings: it measures importing MLflow and opening the store, not reading many runs. The goal
(issue 16) is ``exportcast --help`` <= 1.5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# what the console script `exportcast` does (pip's generated entry point)
ENTRY = (
    "import sys; from exportcast.flows.entry import main; sys.argv[0] = 'exportcast'; "
    "sys.exit(main())"
)
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "exportcast --help": ["-c", ENTRY, "--help"],
    "exportcast runs --help": ["-c", ENTRY, "runs", "--help"],
    "exportcast vintages": ["-c", ENTRY, "vintages"],
    "exportcast runs": ["-c", ENTRY, "runs"],
}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_command(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + sys) seconds of one run of ``python ARGS``; fails on exit code != 0."""
    cpu = _children_cpu()
    start = time.perf_counter()
    res = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if res.returncode != 0:
        raise SystemExit(f"python {' '.join(args)} failed ({res.returncode}):\n{res.stderr}")
    return wall, _children_cpu() - cpu


# one finished run in the default experiment, so that `exportcast runs` opens the store
SEED = """
import sys
import mlflow

mlflow.set_tracking_uri(sys.argv[1])
eid = mlflow.create_experiment("exportcast-KOR", artifact_location=sys.argv[2])
with mlflow.start_run(experiment_id=eid):
    mlflow.set_tags({"data_vintage": "benchmark", "config_hash": "benchmark", "last_year": "2023"})
    mlflow.log_metric("dependence_share", 0.4, step=2023)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (default 5)")
    parser.add_argument(
        "--no-runs", action="store_true", help="skip `exportcast runs` (it imports MLflow)"
    )
    args = parser.parse_args()
    commands = {k: v for k, v in COMMANDS.items() if not (args.no_runs and k.endswith(" runs"))}

    with tempfile.TemporaryDirectory(prefix="exportcast-cli-bench-") as tmp:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
            ),
            "MLFLOW_TRACKING_URI": f"sqlite:///{Path(tmp) / 'mlflow.db'}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "COLUMNS": "100",
        }
        if "exportcast runs" in commands:
            store = env["MLFLOW_TRACKING_URI"]
            seed = [sys.executable, "-c", SEED, store, str(Path(tmp) / "artifacts")]
            subprocess.run(seed, cwd=tmp, env=env, capture_output=True, check=True)
        rows = []
        for name, cmd in commands.items():
            time_command(cmd, env)  # warm-up, not recorded
            times = [time_command(cmd, env) for _ in range(args.repeat)]
            rows.append(
                (
                    name,
                    statistics.median(t[0] for t in times),
                    statistics.median(t[1] for t in times),
                    min(t[0] for t in times),
                    max(t[0] for t in times),
                )
            )

    print(f"median of {args.repeat} runs each (after one warm-up), {os.cpu_count()} CPUs")
    print()
    print(f"{'command':<26}{'wall s':>8}{'cpu s':>8}{'wall min':>10}{'wall max':>10}")
    for name, wall, cpu, lo, hi in rows:
        print(f"{name:<26}{wall:>8.2f}{cpu:>8.2f}{lo:>10.2f}{hi:>10.2f}")


if __name__ == "__main__":
    main()
