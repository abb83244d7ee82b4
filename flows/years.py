"""``years.end`` follows the data: resolve ``latest`` (or check a given year) against a vintage.

The default ``years.end: latest`` means the last year of the reporter's exports in the data
vintage the run reads (pinned, active or embedded: :func:`flows.vintages.snapshot_folder`).
After ``exportcast update`` adds 2024, a plain ``exportcast run`` forecasts from 2024; on the
embedded snapshot it resolves to 2023 for Korea (KOSIS) and 2020 for the DOTS reporters, so
the default run is unchanged. An explicit year wins, but must not lie after the data.

The run continues with a copy of its config whose ``years.end`` is the resolved year, so every
downstream use (panel, backtest origins, forecast years, scenarios, run name, cache key,
config hash, MLflow params, report) sees one number; the configured value is kept beside it
(:class:`ResolvedYears`: ``run.json`` ``years_end``, MLflow param ``years.end_configured``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exportcast.configs.loader import ConfigError
from exportcast.configs.schema import RunConfig
from exportcast.features.sources._common import SourceError

if TYPE_CHECKING:
    import pandas as pd

    from exportcast.flows.run_info import RunInfo
    from exportcast.flows.snapshot import Snapshot

__all__ = [
    "EXPORT_TABLES",
    "LATEST",
    "ResolvedYears",
    "last_year_in_folder",
    "reporter_exports",
    "resolve_last_year",
    "resolve_run",
    "resolve_run_years",
    "years_params",
]

LATEST = "latest"
# Exports by partner: Korea's from KOSIS, any other reporter's from the IMF DOTS panel; the
# first of these tables that has the reporter wins.
EXPORT_TABLES = ("kor_exports", "dots_exports")


@dataclass(frozen=True)
class ResolvedYears:
    """The configured and the resolved ``years.end`` of a run.

    Attributes:
        configured: ``years.end`` as configured (``"latest"`` or a year).
        resolved: The last historical year the run uses.
        data_last_year: The last year of the reporter's exports in the vintage.
        vintage: The data vintage it was resolved against.
    """

    configured: int | str
    resolved: int
    data_last_year: int
    vintage: str

    def describe(self, start: int) -> str:
        """One progress line, e.g. ``years 1990-2024 (years.end: latest; data to 2024 ...)``."""
        return (
            f"  years {start}-{self.resolved} (years.end: {self.configured}; data to "
            f"{self.data_last_year} in vintage {self.vintage})"
        )

    def as_dict(self) -> dict[str, Any]:
        """For ``run.json`` (``years_end``) and the report meta."""
        return {
            "configured": self.configured,
            "resolved": self.resolved,
            "data_last_year": self.data_last_year,
            "vintage": self.vintage,
        }


def resolve_last_year(
    configured: int | str, data_last_year: int, *, reporter: str, start: int, where: str
) -> int:
    """The run's last historical year from ``years.end`` and the data's last year.

    Args:
        configured: ``years.end``: ``"latest"`` or a year.
        data_last_year: The last year of the reporter's exports in the vintage.
        reporter: ISO3 (for the message).
        start: ``years.start``.
        where: The data the year was read from (table and vintage), for the message.

    Returns:
        ``data_last_year`` for ``latest``, else the configured year.

    Raises:
        ConfigError: A configured year after the data's last year, or a resolved year not
            after ``years.start``; the message names the key, the data and what was expected.
    """
    year = data_last_year if configured == LATEST else int(configured)
    if year > data_last_year:
        raise ConfigError(
            f"key 'years.end': {year} is after the last year of {reporter}'s exports in "
            f"{where} ({data_last_year}); expected a year up to {data_last_year}, or 'latest' "
            "(run 'exportcast update' to add newer releases)"
        )
    if year <= start:
        raise ConfigError(
            f"key 'years.end': {configured} resolves to {year} (last year of {reporter}'s "
            f"exports in {where}), not after years.start = {start}; expected a smaller "
            "years.start"
        )
    return year


def resolve_run_years(
    config: RunConfig, exports: pd.DataFrame, *, vintage: str, name: str
) -> tuple[RunConfig, ResolvedYears]:
    """The run's config with ``years.end`` resolved against the reporter's exports.

    Args:
        config: The validated config (``years.end`` may be ``latest``).
        exports: The reporter's exports by partner in the vintage (``year`` column).
        vintage: The data vintage id.
        name: The table the exports come from (for messages).

    Returns:
        ``(config with years.end = the resolved year, what was configured and resolved)``.

    Raises:
        ConfigError: See :func:`resolve_last_year`.
    """
    data_last = int(exports["year"].max())
    where = f"{name} of data vintage {vintage}"
    year = resolve_last_year(
        config.years.end, data_last, reporter=config.reporter, start=config.years.start,
        where=where,
    )  # fmt: skip
    resolved = config.model_copy(update={"years": config.years.model_copy(update={"end": year})})
    return resolved, ResolvedYears(config.years.end, year, data_last, vintage)


def last_year_in_folder(folder: str | Path, reporter: str) -> int | None:
    """The last year of ``reporter``'s exports in a snapshot folder, or None without data.

    Korea's is read from the MANIFEST (``kor_exports`` years); another reporter's from
    ``dots_exports`` (only its rows). Used before the data are loaded: the scenarios' default
    origin at config load and the hint of ``exportcast update``.
    """
    from exportcast.flows.snapshot import MANIFEST_NAME, read_manifest

    folder = Path(folder)
    if not (folder / MANIFEST_NAME).is_file():
        return None
    tables = read_manifest(folder)["tables"]
    if reporter == "KOR" and tables.get("kor_exports", {}).get("years"):
        return int(tables["kor_exports"]["years"][1])
    import pandas as pd

    for table in EXPORT_TABLES:
        path = folder / f"{table}.parquet"
        if not path.is_file():
            continue
        years = pd.read_parquet(path, columns=["year"], filters=[("reporter", "==", reporter)])
        if len(years):
            return int(years["year"].max())
    return None


def years_params(years_end: dict[str, Any] | None) -> dict[str, str]:
    """MLflow params beside the config's (whose ``years.end`` is the resolved year).

    ``years.end_configured`` (``latest`` or the year asked for); nothing without a record.
    """
    if not years_end:
        return {}
    return {"years.end_configured": str(years_end["configured"])}


def resolve_run(
    config: RunConfig,
    snapshot: Snapshot,
    exports: pd.DataFrame,
    name: str,
    describe: Callable[..., RunInfo],
) -> tuple[RunConfig, RunInfo, pd.DataFrame]:
    """The pipeline's hook: resolve ``years.end``, find partial releases, describe the run.

    Args:
        config: The run's config (``years.end`` may be ``latest``).
        snapshot: The loaded vintage (``release_rest`` when an update made it).
        exports: The reporter's exports by partner in the vintage.
        name: The table they come from.
        describe: :func:`flows.pipeline.describe_run`.

    Returns:
        The config with the resolved ``years.end``, the run's identity (with ``years_end`` and
        ``provisional``) and the provisional ``release_rest`` rows of its years
        (:mod:`features.provisional`; empty without a partial release).
    """
    from exportcast.features.provisional import provisional_of_run
    from exportcast.flows.progress import stage_log

    config, years = resolve_run_years(config, exports, vintage=snapshot.vintage, name=name)
    start, end = config.years.start, config.years.end
    rest = snapshot.tables.get("release_rest")
    prov, records = provisional_of_run(rest, exports, config.reporter, start, end)
    stage_log()(years.describe(start))
    run = describe(config, snapshot.vintage, years_end=years.as_dict(), provisional=tuple(records))
    return config, run, prov


def reporter_exports(tables: Mapping[str, pd.DataFrame], reporter: str) -> tuple[pd.DataFrame, str]:
    """The reporter's exports by partner and the snapshot file they come from.

    Korea's come from KOSIS (1990-2023); every other reporter's from the IMF DOTS panel
    (1990-2020): the first of ``EXPORT_TABLES`` that has the reporter.

    Raises:
        SourceError: No table has exports of ``reporter``.
    """
    for table in EXPORT_TABLES:
        frame = tables[table]
        rows = frame.loc[frame["reporter"] == reporter]
        if not rows.empty:
            return rows.reset_index(drop=True), f"data/snapshot/{table}.parquet"
    have = sorted(set().union(*(set(tables[t]["reporter"]) for t in EXPORT_TABLES)))
    raise SourceError(
        f"data/snapshot/{'/'.join(EXPORT_TABLES)}",
        f"no exports for reporter {reporter!r}; expected one of the {len(have)} reporters "
        f"present (ISO3), e.g. {', '.join(have[:12])}",
    )
