"""Pydantic models of the run configuration (``configs/default.yaml``).

Every model forbids unknown keys and is frozen: a misspelt key fails at load, and nothing
below the flow can change the config it was given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

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
    "DataConfig",
    "OutputConfig",
    "RunConfig",
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
