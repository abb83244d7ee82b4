"""Write the small Parquet files of this bad-input corpus (run from the repository root).

``python tests/data/bad/weo_vintages/make_files.py``: ``good.parquet`` has the columns of
``weo_historical_forecasts.parquet`` that the adapter reads, for Korea, World, the Euro area (a
group that is dropped) and Turkey under two spellings (merged); each other file breaks one rule.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


def good() -> pd.DataFrame:
    """Two vintages x two target years for Korea, World, the Euro area and Turkey."""
    rows = []
    for name, iso in (("Korea", "KOR"), ("World", ""), ("Euro area", ""), ("Turkey", "TUR")):
        for season in ("S", "F"):
            for target_year in (2008, 2009):
                horizon = target_year - 2008 + (0.5 if season == "S" else 0.0)
                rows.append(
                    {
                        "country": name,
                        "ISOAlpha_3Code": iso,
                        "target": "ngdp_rpch",
                        "forecast_year": 2008,
                        "forecast_season": season,
                        "target_year": target_year,
                        "horizon": horizon,
                        "prediction": 4.0 + horizon,
                        "tv_1": 2.0 if target_year == 2008 else -0.5,
                    }
                )
    df = pd.DataFrame(rows)
    # Turkey's F2008 row for 2009 again under a second spelling, each filling one cell.
    extra = df.iloc[[-1]].assign(country="T\ufffdrkiye", tv_1=float("nan"))
    df.loc[df.index[-1], "prediction"] = float("nan")
    df = pd.concat([df, extra], ignore_index=True)
    return df.astype({"forecast_year": "int32", "target_year": "int32"})


def write() -> None:
    """Write good.parquet and one file per broken rule."""
    df = good()
    df.to_parquet(HERE / "good.parquet", index=False)
    bad: dict[str, pd.DataFrame] = {
        "missing_column": df.drop(columns=["tv_1"]),
        "text_in_number": df.astype({"prediction": str}),
        "unknown_target": df.copy(),
        "bad_season": df.copy(),
        "target_too_far": df.copy(),
        "bad_horizon": df.copy(),
        "unknown_code": df.copy(),
        "blank_code_not_group": df.copy(),
        "conflicting_duplicate": df.copy(),
        "below_minus_100": df.copy(),
    }
    bad["text_in_number"].loc[2, "prediction"] = "n/a"
    bad["unknown_target"].loc[3, "target"] = "tm_rpch"
    bad["bad_season"].loc[4, "forecast_season"] = "W"
    bad["target_too_far"].loc[5, "target_year"] = 2015
    bad["bad_horizon"].loc[1, "horizon"] = 3.0
    bad["unknown_code"].loc[6, "ISOAlpha_3Code"] = "XYZ"
    bad["blank_code_not_group"].loc[7, "country"] = "Atlantis"
    bad["conflicting_duplicate"].loc[16, "tv_1"] = 1.0  # Turkey F2008/2009 has -0.5 elsewhere
    bad["below_minus_100"].loc[8, "tv_1"] = -100.0
    for name, frame in bad.items():
        frame.to_parquet(HERE / f"{name}.parquet", index=False)
    (HERE / "not_parquet.parquet").write_text("country,target\nKorea,ngdp_rpch\n")


if __name__ == "__main__":
    write()
