"""The ``exportcast`` command's entry point: a fixed string-hash seed, then the CLI.

Python salts ``hash()`` of strings per process (``PYTHONHASHSEED`` unset: a random seed), so
the iteration order of a set of strings differs from one process to the next. Most code does
not care; pyfixest's PPML does: the same world gravity fit on the same rows in two processes
with seeds 0 and 1 gave coefficients 4e-13 and a cluster-robust covariance 4e-6 apart
(relative, 2026-12-04), so two runs of the same code, data and config differed in the 6th-7th
significant digit of the FTA track record's and the scenarios' bands. A run is reproducible
to the last digit only with the seed fixed, and it must be fixed before the interpreter
starts: :func:`fixed_hash_seed` sets ``PYTHONHASHSEED=0`` and re-executes the same command
line (same process id, same open files) when it is unset. Child processes (joblib workers,
the FTA track record's process, Dask workers, Prefect's server) inherit it.

A seed set by the user wins (``PYTHONHASHSEED=random`` restores per-process salts). ``0``
turns the salting off; for a command that reads its own snapshot and config, not strings
from untrusted clients, the hash-flooding protection the salt gives is not needed.
"""

from __future__ import annotations

import os
import sys

__all__ = ["fixed_hash_seed", "main"]

SEED = "0"


def fixed_hash_seed() -> None:
    """Re-execute this command with ``PYTHONHASHSEED=0`` unless a seed is set (POSIX only)."""
    if os.environ.get("PYTHONHASHSEED") or os.name != "posix" or not sys.executable:
        return  # a seed is set (empty counts as unset), or no interpreter to re-execute
    os.environ["PYTHONHASHSEED"] = SEED
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def main() -> None:
    """``exportcast``: fix the hash seed (re-executing once), then run the CLI."""
    fixed_hash_seed()
    from exportcast.flows.cli import app  # after the re-execution: imported once

    app(prog_name="exportcast")
