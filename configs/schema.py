"""Pydantic models of the run configuration (``configs/default.yaml``).

Every model forbids unknown keys and is frozen: a misspelt key fails at load, and nothing
below the flow can change the config it was given.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from features.sources.codes import known_iso3

__all__ = [
    "CacheConfig",
    "DataConfig",
    "ForecastConfig",
    "OriginRange",
    "OutputConfig",
    "RunConfig",
    "RunnerConfig",
    "ScenarioChanges",
    "ScenarioConfig",
    "ScenarioFtaChange",
    "ScenarioGdpShock",
    "ScheduleConfig",
    "TrackingConfig",
    "YearRange",
]


def _iso3(code: str) -> str:
    if code not in known_iso3():
        raise ValueError(
            f"expected an ISO 3166-1 alpha-3 country code in upper case such as 'KOR', got {code!r}"
        )
    return code


ISO3 = Annotated[str, AfterValidator(_iso3)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class YearRange(_Strict):
    """The historical years the run uses (inclusive)."""

    start: int = Field(1990, ge=1950, le=2100, description="First historical year.")
    end: int | Literal["latest"] = Field(
        "latest",
        description="Last historical year; 'latest': the last year of the reporter's exports "
        "in the data vintage the run reads (flows/years.py). A year after it is an error.",
    )

    @field_validator("end", mode="before")
    @classmethod
    def _year_or_latest(cls, value: object) -> int | str:
        if value == "latest":
            return value
        if isinstance(value, int) and not isinstance(value, bool) and 1950 <= value <= 2100:
            return value
        raise ValueError(f"expected a year from 1950 to 2100 or 'latest', got {value!r}")

    @model_validator(mode="after")
    def _ordered(self) -> YearRange:
        if isinstance(self.end, int) and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class DataConfig(_Strict):
    """Where the data comes from."""

    source: Literal["snapshot", "raw"] = Field(
        "snapshot",
        description="'snapshot' reads the embedded data/snapshot; 'raw' rebuilds from raw_dir.",
    )
    snapshot_dir: Path = Field(Path("data/snapshot"), description="The embedded snapshot.")
    raw_dir: Path | None = Field(None, description="Upstream raw files (for source: raw).")
    vintage: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{12}$",
        description="Pin a data vintage id ('exportcast vintages'); None: the active one.",
    )
    vintages_dir: Path = Field(
        Path("data/vintages"), description="Vintage store (docs/data-updates.md); git-ignored."
    )
    inbox_dir: Path = Field(Path("data/inbox"), description="Files for 'exportcast update'.")
    quarantine_dir: Path = Field(Path("data/quarantine"), description="Failed releases.")

    @model_validator(mode="after")
    def _raw_needs_dir(self) -> DataConfig:
        if self.source == "raw" and self.raw_dir is None:
            raise ValueError("source 'raw' needs raw_dir (the folder with SOURCES.md)")
        return self


class OutputConfig(_Strict):
    """Where results go: ``<dir>/<reporter>/``."""

    dir: Path = Field(Path("outputs"), description="Output root; one folder per reporter.")
    history_rows: int = Field(15, ge=1, le=100, description="Years shown in the terminal table.")


class TrackingConfig(_Strict):
    """Where MLflow records runs."""

    uri: str | None = Field(
        None,
        description=(
            "MLflow tracking URI, e.g. http://127.0.0.1:5000 or sqlite:///mlruns/mlflow.db "
            "(relative SQLite paths resolve against the project). None: $MLFLOW_TRACKING_URI, "
            "else sqlite:///<project>/mlruns/mlflow.db."
        ),
    )
    artifacts: Path | None = Field(
        None,
        description=(
            "Artifact folder for new experiments in a SQLite store (relative paths resolve "
            "against the project). None: 'artifacts' next to the SQLite file."
        ),
    )
    experiment: str = Field(
        "exportcast-{reporter}", description="Experiment name; '{reporter}' is filled in."
    )

    # A model-level check, so that the error message never echoes the secret back.
    @model_validator(mode="after")
    def _no_credentials(self) -> TrackingConfig:
        if self.uri is not None and urlsplit(self.uri).password is not None:
            raise ValueError(
                "uri must not contain a password; set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD in the environment instead"
            )
        return self

    @field_validator("experiment")
    @classmethod
    def _only_reporter_field(cls, value: str) -> str:
        try:
            name = value.format(reporter="KOR")
        except (KeyError, IndexError, ValueError):
            name = ""
        if not name.strip():
            raise ValueError(
                f"expected a name with at most the field '{{reporter}}', got {value!r}"
            )
        return value


# name, lowest, highest, names allowed in place of numbers
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct",
                      "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)  # fmt: skip


def _cron_value(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    if text.isdigit():
        return low <= int(text) <= high
    return text.lower() in names


def _cron_field(text: str, low: int, high: int, names: tuple[str, ...]) -> bool:
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        first, _, last = base.partition("-")
        if not _cron_value(first, low, high, names) or (
            last and not _cron_value(last, low, high, names)
        ):
            return False
    return True


class ScheduleConfig(_Strict):
    """When ``exportcast serve`` runs the main job."""

    cron: str = Field(
        "0 6 1 * *",
        description="Cron expression with 5 fields: minute hour day-of-month month day-of-week.",
    )
    timezone: str = Field("Asia/Seoul", description="IANA time zone the cron is read in.")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(
                "expected a cron expression with 5 fields (minute hour day-of-month month "
                f"day-of-week) such as '0 6 1 * *', got {len(fields)} fields in {value!r}"
            )
        for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
            if not _cron_field(text, low, high, names):
                raise ValueError(
                    f"cron field {name} {text!r} is not valid (numbers {low}-{high}, "
                    f"'*', ranges a-b, lists a,b and steps */n) in {value!r}"
                )
        return " ".join(fields)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA time zone such as 'Asia/Seoul' or 'UTC', got {value!r}"
            ) from None
        return value


class CacheConfig(_Strict):
    """Task result cache (keyed by data vintage, config hash and code version)."""

    enabled: bool = Field(True, description="Reuse results of heavy stages from earlier runs.")
    dir: Path = Field(
        Path(".exportcast-cache"),
        description="Cache folder; relative paths resolve against the project.",
    )


ModelName = Literal["Naive", "Drift", "Theta", "DampedETS", "AutoARIMA"]


class OriginRange(_Strict):
    """Backtest origins (cutoff years) whose errors are scored."""

    start: int = Field(2008, ge=1950, le=2100, description="First scored origin.")
    end: int = Field(2018, ge=1950, le=2100, description="Last scored origin.")

    @model_validator(mode="after")
    def _ordered(self) -> OriginRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        return self


class ForecastConfig(_Strict):
    """The forecasting engine: candidate models, backtest origins, intervals, sample paths."""

    enabled: bool = Field(True, description="Forecast partners and the indices.")
    models: tuple[ModelName, ...] = Field(
        ("Naive", "Drift", "Theta"),
        min_length=1,
        description="Candidate models; with two or more their mean 'Ensemble' is one too. "
        "DampedETS (half the backtest time, relMASE 1.19 on Korea, never selected) and "
        "AutoARIMA (about 0.1 s per series and origin, 1.11) are available, not defaults.",
    )
    backtest: OriginRange = OriginRange()
    history_start: int = Field(
        1998,
        ge=1950,
        le=2100,
        description="Earlier origins from this year supply past errors for the rolling choice.",
    )
    min_years: int = Field(
        20, ge=3, le=100, description="Partners positive in each of the last N years get a model."
    )
    levels: tuple[int, ...] = Field((80, 95), min_length=1, description="Interval levels, %.")
    n_paths: int = Field(1000, ge=50, le=100_000, description="Joint sample paths.")
    seed: int = Field(0, ge=0, description="Seed of the sample paths.")
    n_jobs: int = Field(2, ge=1, le=64, description="Parallel workers over series.")
    max_fallback_share: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Fail the run when the fallback (Naive) replaced a model on a larger share "
        "of its fits (backtest or live forecast).",
    )
    demand_model: bool = Field(
        False,
        description="Add the demand model (models/demand.py: the WEO outlook known at each "
        "origin, a pooled share GBM x a Theta total) as a candidate. Not a default: on Korea "
        "2008-2018 relMASE 0.977 but weighted 1.013, never selected (docs/demand-models.md).",
    )
    weo_as_of: Literal["fall_of_origin", "spring_after_origin"] = Field(
        "fall_of_origin",
        description="Newest WEO vintage a forecast at origin T may use: the fall WEO of T "
        "(fall_of_origin) or the spring WEO of T+1 (spring_after_origin); "
        "docs/information-set.md.",
    )
    dependence_threshold: float = Field(
        0.35,
        gt=0,
        lt=1,
        description="Report P(dependence share < threshold) for each forecast year.",
    )

    @field_validator("models")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct models, got {list(value)}")
        return value

    @field_validator("levels")
    @classmethod
    def _levels(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 50 <= v < 100 for v in value) or len(set(value)) != len(value):
            raise ValueError(f"expected distinct levels between 50 and 99, got {list(value)}")
        return tuple(sorted(value))


class ReportConfig(_Strict):
    """The policy report built at the end of every run with forecasts (``reports/``)."""

    enabled: bool = Field(True, description="Build HTML, PDF and XLSX after a forecast run.")
    pdf: bool = Field(
        True, description="Print the PDF with headless Chromium (/usr/bin/chromium needed)."
    )
    exclude_open_registries: bool = Field(
        True,
        description="Keep open ship registries (ITF flags of convenience, "
        "features/open_registries.py) out of the growth and opportunity rankings; the report "
        "shows them apart.",
    )


class RunnerConfig(_Strict):
    """Where the per-partner backtests and forecasts run (results are the same either way)."""

    kind: Literal["default", "dask"] = Field(
        "default",
        description="default: in the flow's process (forecast.n_jobs joblib workers); "
        "dask: chunks of partners as Prefect tasks on a Dask cluster (prefect-dask).",
    )
    address: str | None = Field(
        None,
        description="Scheduler of a running Dask cluster (tcp://host:port); null starts a "
        "local cluster of n_workers single-threaded worker processes for the run.",
    )
    n_workers: int = Field(2, ge=1, le=256, description="Workers of the local Dask cluster.")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
            raise ValueError(
                f"expected a Dask scheduler address such as 'tcp://127.0.0.1:8786', got {value!r}"
            )
        return value

    @model_validator(mode="after")
    def _address_needs_dask(self) -> RunnerConfig:
        if self.address is not None and self.kind != "dask":
            raise ValueError(f"address is only used with kind 'dask', not {self.kind!r}")
        return self


# --- scenarios (configs/scenarios/*.yaml) ------------------------------------------------------
# Checks that need the data (agreement in the FTA table, origin within the data, partner
# modelled) run when ``configs.loader.load_scenario`` passes a validation context with keys
# ``fta`` (the agreement table), ``first_year``/``last_year`` (of the trade data), ``modelled``
# (partners with their own series at the origin, a callable origin -> set) and
# ``default_origin`` (the run's years.end). Without a context only the data-free checks run.


def _context(info: ValidationInfo) -> dict:
    return info.context if isinstance(info.context, dict) else {}


class ScenarioFtaChange(_Strict):
    """One partner enters or leaves an FTA in a given year."""

    partner: ISO3 = Field(description="Partner (ISO3).")
    agreement: str | None = Field(
        None,
        description="agreement_short of the FTA table (e.g. KKFTA); must exist for the partner. "
        "None: a generic new agreement (enter) or every agreement of the partner (leave).",
    )
    action: Literal["enter", "leave"] = Field(description="enter | leave.")
    year: int = Field(
        ge=1950,
        le=2100,
        description="enter: first calendar year in force; leave: first year without it.",
    )
    basis: Literal["auto", "any_fta", "additional_agreement"] = Field(
        "auto",
        description="Which PPML coefficient prices the change: auto = any_fta when the "
        "partner has no other FTA in force that year, else additional_agreement.",
    )

    @model_validator(mode="after")
    def _agreement_in_table(self, info: ValidationInfo) -> ScenarioFtaChange:
        fta = _context(info).get("fta")
        if fta is None or self.agreement is None:
            return self
        rows = fta.loc[fta["partner"] == self.partner, "agreement_short"]
        if self.agreement not in set(rows):
            raise ValueError(
                f"agreement: {self.agreement!r} is not in the FTA table for {self.partner}; "
                f"it has {sorted(set(rows)) or 'no agreement'}"
            )
        return self


class ScenarioGdpShock(_Strict):
    """Percentage points added to a partner's real GDP growth in each year start..end."""

    partner: ISO3 = Field(description="Partner (ISO3).")
    start: int = Field(ge=1950, le=2100, description="First shocked year.")
    end: int = Field(ge=1950, le=2100, description="Last shocked year (inclusive).")
    growth_pp: float = Field(
        ge=-50, le=50, description="Added to GDP growth each year, percentage points."
    )

    @model_validator(mode="after")
    def _ordered(self) -> ScenarioGdpShock:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        if self.growth_pp == 0:
            raise ValueError("growth_pp must not be 0 (drop the shock instead)")
        return self


class ScenarioChanges(_Strict):
    """What the scenario changes against the baseline."""

    fta: tuple[ScenarioFtaChange, ...] = Field((), description="FTA entries and exits.")
    gdp_shocks: tuple[ScenarioGdpShock, ...] = Field((), description="Partner GDP shocks.")
    dependence_set: tuple[ISO3, ...] | None = Field(
        None, min_length=1, description="Partners of this scenario's dependence index."
    )

    @field_validator("dependence_set")
    @classmethod
    def _distinct(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError(f"expected distinct partners, got duplicates in {list(value)}")
        return value


class ScenarioConfig(_Strict):
    """One FTA/demand scenario (``configs/scenarios/<name>.yaml``)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", description="Short id (a-z, 0-9, _-).")
    title: str = Field(min_length=1, description="Title shown in the report.")
    description: str = Field("", description="What the scenario assumes, in a sentence or two.")
    origin: int | None = Field(
        None,
        ge=1950,
        le=2100,
        description="Forecast origin (last observed year); None: the run's years.end.",
    )
    changes: ScenarioChanges = ScenarioChanges()
    effects: Literal["partner_panel", "world_gravity"] = Field(
        "partner_panel",
        description="What prices FTA entries: the reporter's partner-panel PPML, or the world "
        "structural gravity with phased effects (docs/fta-gravity.md; entries only).",
    )

    @field_validator("origin")
    @classmethod
    def _origin_in_data(cls, value: int | None, info: ValidationInfo) -> int | None:
        ctx = _context(info)
        first, last = ctx.get("first_year"), ctx.get("last_year")
        if value is None:
            return value
        if last is not None and value > last:
            raise ValueError(f"origin {value} is after the last year of the trade data ({last})")
        if first is not None and value < first + 20:
            raise ValueError(
                f"origin {value} leaves too little history: the trade data start in {first}; "
                f"expected an origin from {first + 20} to {last}"
            )
        return value

    def origin_or(self, default: int) -> int:
        """The scenario's origin, or ``default`` (the run's years.end) when it has none."""
        return self.origin if self.origin is not None else default

    @model_validator(mode="after")
    def _years_after_origin(self, info: ValidationInfo) -> ScenarioConfig:
        ctx = _context(info)
        origin = self.origin if self.origin is not None else ctx.get("default_origin")
        modelled = ctx.get("modelled")
        partners = modelled(origin) if modelled is not None and origin is not None else None
        errors = []
        # (section, items, year field, why the year must be after the origin, why the partner
        # needs its own series)
        sections = (
            (
                "fta", self.changes.fta, "year",
                " (a change at or before the origin is already in the data)",
                " (not positive in each of the last forecast.min_years years), so the scenario "
                "cannot move its exports",
            ),
            ("gdp_shocks", self.changes.gdp_shocks, "start", "", ""),
        )  # fmt: skip
        for section, items, field, why_year, why_partner in sections:
            for i, item in enumerate(items):
                where, year = f"changes.{section}.{i}", getattr(item, field)
                if origin is not None and not origin < year <= origin + 15:
                    errors.append(
                        f"{where}.{field}: {year} must be after the origin {origin} and at most "
                        f"15 years later{why_year}"
                    )
                if partners is not None and item.partner not in partners:
                    errors.append(
                        f"{where}.partner: {item.partner} has no series of its own at origin "
                        f"{origin}{why_partner}"
                    )
        if errors:
            # one "<key>: <message>" line each; load_scenario reports them under their keys
            raise ValueError("\n".join(errors))
        return self


class RunConfig(_Strict):
    """One pipeline run."""

    reporter: ISO3 = Field("KOR", description="Reporting country (ISO3).")
    years: YearRange = YearRange()
    data: DataConfig = DataConfig()
    dependence_set: tuple[ISO3, ...] = Field(
        ("CHN", "USA"),
        min_length=1,
        description="Partners whose combined share is the dependence index.",
    )
    horizon: int = Field(5, ge=1, le=15, description="Forecast horizon in years.")
    output: OutputConfig = OutputConfig()
    tracking: TrackingConfig = TrackingConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    cache: CacheConfig = CacheConfig()
    forecast: ForecastConfig = ForecastConfig()
    runner: RunnerConfig = RunnerConfig()
    report: ReportConfig = ReportConfig()
    scenarios: tuple[Path, ...] = Field(
        (),
        description="Scenario files (configs/scenarios/*.yaml; relative paths resolve against "
        "the project); each is validated when the config is loaded.",
    )

    @field_validator("dependence_set")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct partners, got duplicates in {list(value)}")
        return value

    @field_validator("dependence_set")
    @classmethod
    def _not_reporter(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        reporter = info.data.get("reporter")
        if reporter in value:
            raise ValueError(f"must not contain the reporter {reporter!r} itself")
        return value
