"""The building blocks of the config models: strict (frozen, no unknown keys) models and ISO3 codes."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
)

from exportcast.features.sources.codes import known_iso3

__all__ = ["ISO3", "StrictModel"]


def _iso3(code: str) -> str:
    if code not in known_iso3():
        raise ValueError(
            f"expected an ISO 3166-1 alpha-3 country code in upper case such as 'KOR', got {code!r}"
        )
    return code


ISO3 = Annotated[str, AfterValidator(_iso3)]


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors, and the values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)
