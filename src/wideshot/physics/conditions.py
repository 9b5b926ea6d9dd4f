"""The conditions a data set is simulated under, and a model trained for.

Wavelength and detector (:class:`~wideshot.config.SimulationConfig`), material and the range of
circumradii are settings of a data set, recorded in its attributes and in the card of a model
trained on it, so that whatever re-simulates for a model (quality check, refinement) uses the
physics the model learnt. Defaults are SPEC's.

Examples
--------
>>> conditions = Conditions.from_dict({"radius_range_nm": [20, 200]})
>>> conditions.radius_range_nm, conditions.config.wavelength_nm
((20.0, 200.0), 13.5)
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from wideshot.config import DEFAULT_CONFIG, RADIUS_RANGE_NM, SimulationConfig
from wideshot.physics.material import (
    Absorption,
    RefractiveIndex,
    describe_material,
    material_from_description,
    resolve_material,
)


def validate_radius_range(radius_range_nm) -> tuple[float, float]:
    """(low, high) in nm with 0 < low < high, both finite; ``ValueError`` naming it otherwise."""
    try:
        low, high = (float(value) for value in radius_range_nm)
    except (TypeError, ValueError):
        raise ValueError(f"radius_range_nm must be two numbers (low, high), got "
                         f"{radius_range_nm!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and 0 < low < high):
        raise ValueError(f"radius_range_nm must satisfy 0 < low < high, got {radius_range_nm!r}")
    return low, high


@dataclass(frozen=True)
class Conditions:
    """Physics and size range of a data set or a model.

    Attributes
    ----------
    config : SimulationConfig
        Wavelength, detector grid, image floor.
    material : Absorption or RefractiveIndex
        Default: SPEC's absorption-only model (ℓ of ``config``).
    radius_range_nm : (float, float)
        Circumradii drawn (data) or learnt (model), nm.
    """

    config: SimulationConfig = DEFAULT_CONFIG
    material: Absorption | RefractiveIndex | None = None
    radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM

    def __post_init__(self) -> None:
        if self.material is None:
            object.__setattr__(self, "material", resolve_material(config=self.config))
        object.__setattr__(self, "radius_range_nm", validate_radius_range(self.radius_range_nm))

    def as_dict(self) -> dict:
        """JSON-ready: ``config``, ``material``, ``radius_range_nm``."""
        return {"config": self.config.as_dict(), "material": describe_material(self.material),
                "radius_range_nm": list(self.radius_range_nm)}

    @classmethod
    def from_dict(cls, values: dict) -> Conditions:
        """From :meth:`as_dict` or data-set attributes; missing entries take SPEC's defaults
        (files and cards written before the conditions were recorded)."""
        config = DEFAULT_CONFIG
        if values.get("config"):
            known = {field.name for field in dataclasses.fields(SimulationConfig)}
            config = SimulationConfig(**{key: value for key, value in values["config"].items()
                                         if key in known})
        material = (material_from_description(values["material"]) if values.get("material")
                    else None)
        return cls(config, material, tuple(values.get("radius_range_nm", RADIUS_RANGE_NM)))


DEFAULT_CONDITIONS = Conditions()
