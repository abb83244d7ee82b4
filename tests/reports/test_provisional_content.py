"""The report's summary names the provisional partner-years of a run (reports/provisional.py)."""

from __future__ import annotations

import dataclasses

from exportcast.reports.bundle import load_bundle
from exportcast.reports.content import summary_sentences

# a record as features.provisional.provisional_records makes it (numbers of a test bundle)
RECORD = {
    "reporter": "KOR", "year": 2023, "total_usd": 6.3e11, "listed_usd": 6.0e11,
    "rest_usd": 3.0e10, "rest_share": 3.0e10 / 6.3e11, "n_listed": 40,
    "unknown_partners": ["PHL", "MNG"], "source": "kor_2023_top40_synthetic_test_release.csv",
}  # fmt: skip


def test_summary_names_the_provisional_partner_years(bundle_dir):
    bundle = load_bundle(bundle_dir)
    assert not any("Provisional partner-years" in s for s in summary_sentences(bundle))
    meta = {**bundle.meta, "provisional": [RECORD]}
    text = " ".join(summary_sentences(dataclasses.replace(bundle, meta=meta)))
    assert (
        "Provisional partner-years in 2023: the release lists 40 partners of the USD 630.0 bn "
        "total; the other USD 30.0 bn (4.8 %) is not yet assigned to partners" in text
    )
    assert "2 partners that bought in 2022 have no 2023 value yet" in text
    assert "largest in 2022: Philippines, Mongolia)" in text
    assert "2023 is not scored in the backtest." in text
