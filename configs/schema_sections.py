"""Config sections that say where data come from and where results go, and how the job runs.

``data``, ``output``, ``tracking``, ``schedule``, ``cache``, ``report`` and ``runner`` of
:class:`configs.schema.RunConfig`.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from exportcast.configs.schema_base import StrictModel

__all__ = [
    "CacheConfig",
    "DataConfig",
    "OutputConfig",
    "ReportConfig",
    "RunnerConfig",
    "ScheduleConfig",
    "TrackingConfig",
]


class DataConfig(StrictModel):
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


class OutputConfig(StrictModel):
    """Where results go: ``<dir>/<reporter>/``."""

    dir: Path = Field(Path("outputs"), description="Output root; one folder per reporter.")
    history_rows: int = Field(15, ge=1, le=100, description="Years shown in the terminal table.")


class TrackingConfig(StrictModel):
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


class ScheduleConfig(StrictModel):
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


class CacheConfig(StrictModel):
    """Task result cache (keyed by data vintage, config hash and code version)."""

    enabled: bool = Field(True, description="Reuse results of heavy stages from earlier runs.")
    dir: Path = Field(
        Path(".exportcast-cache"),
        description="Cache folder; relative paths resolve against the project.",
    )


class ReportConfig(StrictModel):
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


class RunnerConfig(StrictModel):
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
