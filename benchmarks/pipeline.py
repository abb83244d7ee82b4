"""Stage profile of the default run: wall seconds per stage, cold and warm, and peak memory.

Runs ``exportcast run`` (the default config: Korea, forecasts, both scenarios, report with PDF)
twice in child processes, as a user would:

- **cold**: an empty cache folder, a new MLflow SQLite store and Prefect's temporary server
  (no ``PREFECT_API_URL``), in a fresh output folder;
- **warm**: the identical command again (same cache, store and output folder).

Every stage line the run prints ends with its wall seconds (``[12.3 s]``, the time since the
previous stage line: the stages run one after the other); this script collects them into one
table, adds the process's total wall time (imports and Prefect's server start included) and the
peak memory of the whole process tree (the run, its joblib workers, the Prefect server and
Chromium), sampled every 0.2 s: summed PSS (shared pages divided among the processes that map
them: the memory the run occupies) and, for comparison with earlier tables, summed RSS (which
counts a page shared by Chromium's ten processes ten times).

Usage: ``.venv/bin/python benchmarks/pipeline.py [--set key=value ...] [--keep DIR]``
(``make bench`` runs it). Goals (issue 16): cold <= 40 s, warm <= 8 s, peak <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
# "  <stage name padded to 22> <what it made>[  (cached)]  [12.3 s]"
STAGE = re.compile(r"^  (?P<name>\S.{21}) .*?(?P<cached>\(cached\))?\s+\[(?P<s>\d+\.\d) s\]$")


def _pss(pid: int) -> int:
    """Proportional set size of one process (Linux ``smaps_rollup``), bytes; 0 if unreadable."""
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def _label(p: psutil.Process) -> str:
    """A short name for a process of the tree (what it runs), for the memory breakdown."""
    with contextlib.suppress(psutil.Error):
        cmd = p.cmdline()
        text = " ".join(cmd)
        for key, label in (("uvicorn", "Prefect server"), ("chromium", "Chromium"),
                           ("joblib", "joblib worker"), ("spawn_main", "spawned child"),
                           ("loky", "joblib worker"), ("exportcast.flows.cli", "exportcast run")):  # fmt: skip
            if key in text:
                return label
        return Path(cmd[0]).name if cmd else "?"
    return "?"


def _tree_memory(proc: psutil.Process) -> tuple[int, int, dict[str, int]]:
    """Summed RSS and summed PSS of the process and all its descendants, bytes.

    RSS counts every shared page once per process that maps it (Chromium's ten processes share
    one 200 MB binary, the joblib workers share the libraries they forked with); PSS divides
    each shared page among the processes mapping it, so the tree's summed PSS is the memory
    the run really occupies.
    """
    rss = pss = 0
    by: dict[str, int] = {}
    for p in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            rss += p.memory_info().rss
            share = _pss(p.pid)
            pss += share
            label = _label(p)
            by[label] = by.get(label, 0) + share
    return rss, pss, by


def run_once(cmd: list[str], env: dict[str, str]) -> dict:
    """Run the command; return its stage lines, wall seconds, peak tree RSS and exit code."""
    started = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    proc = psutil.Process(child.pid)
    peak = [0, 0]  # summed RSS, summed PSS
    at_peak: dict[str, int] = {}  # PSS by kind of process at the PSS peak
    done = threading.Event()

    def sample() -> None:
        nonlocal at_peak
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                rss, pss, by = _tree_memory(proc)
                peak[0] = max(peak[0], rss)
                if pss > peak[1]:
                    peak[1], at_peak = pss, by
            done.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = child.stdout.read() if child.stdout else ""
    code = child.wait()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    # CPU of the run and the children it reaped (workers, Prefect's server, Chromium): less
    # sensitive than wall time to other jobs on a shared machine
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    stages = []
    for line in out.splitlines():
        m = STAGE.match(line)
        if m:
            stages.append((m["name"].strip(), float(m["s"]), bool(m["cached"])))
    return {
        "stages": stages, "wall": wall, "cpu": cpu, "peak": peak[0], "peak_pss": peak[1], "at_peak": at_peak, "code": code, "out": out
    }  # fmt: skip


def _merge(cold: list, warm: list) -> list[tuple[str, float | None, float | None, str]]:
    # stage names repeat (one scenario block each): pair them by name and occurrence
    rows, seen_w = [], {}
    warm_by = {}
    for name, s, cached in warm:
        warm_by.setdefault(name, []).append((s, cached))
    for name, s, _ in cold:
        k = seen_w.get(name, 0)
        seen_w[name] = k + 1
        w = warm_by.get(name, [])
        ws, wc = w[k] if k < len(w) else (None, False)
        rows.append((name, s, ws, "cached" if wc else ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="sets", action="append", default=[], help="config override")
    parser.add_argument("--keep", type=Path, help="keep the cache/store/output in DIR")
    args = parser.parse_args()

    base = args.keep or Path(tempfile.mkdtemp(prefix="exportcast-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API", "MLFLOW_"))}
    env.update(
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        MPLBACKEND="Agg",
        MLFLOW_TRACKING_URI=f"sqlite:///{base / 'mlruns' / 'mlflow.db'}",
    )
    (base / "mlruns").mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "exportcast.flows.cli", "run",
           "--set", f"cache.dir={base / 'cache'}", "--set", f"output.dir={base / 'out'}"]  # fmt: skip
    for item in args.sets:
        cmd += ["--set", item]
    help_started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "exportcast.flows.cli", "--help"], cwd=ROOT, env=env,
                   capture_output=True, check=True)  # fmt: skip
    help_s = time.perf_counter() - help_started

    print(f"exportcast run, cold then warm, in {base} ({time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
    cold = run_once(cmd, env)
    if cold["code"]:
        sys.exit(f"cold run failed (exit {cold['code']}):\n{cold['out'][-3000:]}")
    warm = run_once(cmd, env)
    if warm["code"]:
        sys.exit(f"warm run failed (exit {warm['code']}):\n{warm['out'][-3000:]}")

    print("\n| stage | cold s | warm s | warm |\n|---|---|---|---|")
    for name, c, w, note in _merge(cold["stages"], warm["stages"]):
        print(f"| {name} | {c:.1f} | {'' if w is None else f'{w:.1f}'} | {note} |")
    for label, key in (("sum of stages", None), ("whole command (imports, Prefect start)", "wall")):
        if key is None:
            c = sum(s for _, s, _ in cold["stages"])
            w = sum(s for _, s, _ in warm["stages"])
        else:
            c, w = cold[key], warm[key]
        print(f"| **{label}** | {c:.1f} | {w:.1f} | |")
    print(f"| CPU seconds of the process tree | {cold['cpu']:.1f} | {warm['cpu']:.1f} | |")
    print(f"| peak memory of the process tree (summed PSS), MB | {cold['peak_pss'] / 2**20:.0f} | "
          f"{warm['peak_pss'] / 2**20:.0f} | |")  # fmt: skip
    print(f"| peak summed RSS (shared pages counted per process), MB | {cold['peak'] / 2**20:.0f} "
          f"| {warm['peak'] / 2**20:.0f} | |")  # fmt: skip
    for label, run in (("cold", cold), ("warm", warm)):
        parts = sorted(run["at_peak"].items(), key=lambda kv: -kv[1])
        print(f"{label} peak (PSS) by process: "
              + ", ".join(f"{k} {v / 2**20:.0f} MB" for k, v in parts))  # fmt: skip
    print(f"\n`exportcast --help`: {help_s:.2f} s (goal <= 1.5 s); goals: cold <= 40 s, "
          f"warm <= 8 s, peak memory (PSS) <= 1,536 MB")  # fmt: skip


if __name__ == "__main__":
    main()
