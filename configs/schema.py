"""Pydantic models of the run configuration (``configs/default.yaml``).

Every model forbids unknown keys and is frozen: a misspelt key fails at load, and nothing
below the flow can change the config it was given.

The sections live in their own modules: :mod:`configs.schema_sections` (data, output,
tracking, schedule, cache, report, runner), :mod:`configs.schema_forecast` (forecast),
:mod:`configs.schema_scenario` (scenario files) and :mod:`configs.schema_base` (strict models,
ISO3 codes). This module holds the top-level :class:`RunConfig`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exportcast.configs.schema_base import ISO3, StrictModel
from exportcast.configs.schema_forecast import ForecastConfig
from exportcast.configs.schema_sections import (
    CacheConfig,
    DataConfig,
    OutputConfig,
    ReportConfig,
    RunnerConfig,
    ScheduleConfig,
    TrackingConfig,
)

__all__ = ["RunConfig", "YearRange"]


class YearRange(StrictModel):
    """The historical years the run uses (inclusive)."""

    start: int = Field(1990, ge=1950, le=2100, description="First historical year.")
    end: int = Field(2023, ge=1950, le=2100, description="Last historical year.")

    @model_validator(mode="after")
    def _ordered(self) -> YearRange:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class RunConfig(StrictModel):
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
