"""Scenario files (``configs/scenarios/*.yaml``): FTA changes and GDP shocks against the baseline."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from exportcast.configs.schema_base import ISO3, StrictModel

__all__ = ["ScenarioChanges", "ScenarioConfig", "ScenarioFtaChange", "ScenarioGdpShock"]


# --- scenarios (configs/scenarios/*.yaml) ------------------------------------------------------
# Checks that need the data (agreement in the FTA table, origin within the data, partner
# modelled) run when ``configs.loader.load_scenario`` passes a validation context with keys
# ``fta`` (the agreement table), ``first_year``/``last_year`` (of the trade data), ``modelled``
# (partners with their own series at the origin, a callable origin -> set) and
# ``default_origin`` (the run's years.end). Without a context only the data-free checks run.


def _context(info: ValidationInfo) -> dict:
    return info.context if isinstance(info.context, dict) else {}


class ScenarioFtaChange(StrictModel):
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


class ScenarioGdpShock(StrictModel):
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


class ScenarioChanges(StrictModel):
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


class ScenarioConfig(StrictModel):
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
