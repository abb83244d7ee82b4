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
    end: int = Field(2023, ge=1950, le=2100, description="Last historical year.")

    @model_validator(mode="after")
    def _ordered(self) -> YearRange:
        if self.end <= self.start:
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
        ("Naive", "Drift", "Theta", "DampedETS"),
        min_length=1,
        description="Candidate models; with two or more their mean 'Ensemble' is one too. "
        "AutoARIMA is slow (about 0.1 s per series and origin) and was the least accurate.",
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
