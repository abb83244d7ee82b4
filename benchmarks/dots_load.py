"""How long the IMF DOTS adapter takes on the all-reporter file (the largest raw input).

Run: ``.venv/bin/python benchmarks/dots_load.py [--raw ../shared/data/raw] [--repeat 3]``.

Times ``load_dots_exports`` on the whole file and with the reporter filter (Korea only), the
two reads the tests check for content (tests/features/sources/test_dots.py). Until 2026-12-03
those tests also asserted each read took under 15 s; that is a speed goal, so it lives here as
a printed table (the tests failed on a loaded machine at 15.5 s while reading correctly).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from exportcast.features.sources.dots import load_dots_exports  # noqa: E402

ALL_FILE = Path("imf_dots") / "dots_exports_by_partner_all_reporters_1960_2020.csv.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=ROOT.parent / "shared" / "data" / "raw")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = args.raw / ALL_FILE
    if not path.is_file():
        raise SystemExit(f"{path} not found: pass --raw (the folder with SOURCES.md)")
    cases = {"all reporters": {}, "reporter filter (KOR)": {"reporters": ["KOR"]}}
    print(f"{'read':<24} {'rows':>9} {'median s':>9} {'min s':>7}  ({args.repeat} runs)")
    for name, kwargs in cases.items():
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            loaded = load_dots_exports(path, **kwargs)
            times.append(time.perf_counter() - t0)
        rows = len(loaded.frame)
        print(f"{name:<24} {rows:>9,} {statistics.median(times):>9.1f} {min(times):>7.1f}")


if __name__ == "__main__":
    main()
