"""The ``forecast`` section of the run config: candidate models, backtest origins, intervals."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from exportcast.configs.schema_base import StrictModel

__all__ = ["ForecastConfig", "ModelName", "OriginRange"]


ModelName = Literal["Naive", "Drift", "Theta", "DampedETS", "AutoARIMA"]


class OriginRange(StrictModel):
    """Backtest origins (cutoff years) whose errors are scored."""

    start: int = Field(2008, ge=1950, le=2100, description="First scored origin.")
    end: int = Field(2018, ge=1950, le=2100, description="Last scored origin.")

    @model_validator(mode="after")
    def _ordered(self) -> OriginRange:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) must not be before start ({self.start})")
        return self


class ForecastConfig(StrictModel):
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
