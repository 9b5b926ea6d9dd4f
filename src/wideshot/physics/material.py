"""Materials: how the exciting field is attenuated (and phase-shifted) inside the particle.

The forward model needs one number from a material, the complex attenuation coefficient
γ (nm⁻¹) in ρ_eff(r) = ρ(r)·e^{−γ d(r)}, d the path length travelled inside the particle.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from wideshot.config import DEFAULT_CONFIG, SimulationConfig


@dataclass(frozen=True)
class Absorption:
    """SPEC's default, absorption-only model: the field decays as e^{−d/ℓ}.

    ``attenuation_length_nm = math.inf`` is the Born limit (no absorption).
    """

    attenuation_length_nm: float = DEFAULT_CONFIG.attenuation_length_nm

    def __post_init__(self) -> None:
        if math.isnan(self.attenuation_length_nm) or self.attenuation_length_nm <= 0:
            raise ValueError("attenuation_length_nm must be positive (math.inf for no absorption), "
                             f"got {self.attenuation_length_nm!r}")

    def attenuation(self, config: SimulationConfig = DEFAULT_CONFIG) -> complex:
        """γ = 1/ℓ in nm⁻¹ (0 in the Born limit)."""
        return complex(1.0 / self.attenuation_length_nm)


@dataclass(frozen=True)
class RefractiveIndex:
    """Refraction and absorption through a complex index n = 1 − δ + iβ.

    Inside the particle the exciting wave picks up e^{i k (n − 1) d}: phase delay k δ d and
    amplitude decay e^{−k β d}. The scattering contrast is kept at 1 (as in SPEC's model), so
    images are comparable to the absorption-only ones. Silver at 91.8 eV: n ≈ 1 − 0.110 + 0.079i
    (:data:`SILVER_91EV`).
    """

    index: complex

    def __post_init__(self) -> None:
        index = complex(self.index)
        if not (math.isfinite(index.real) and math.isfinite(index.imag)) or index.imag < 0:
            raise ValueError(f"refractive index must be finite with Im(n) >= 0, got {self.index!r}")

    def attenuation(self, config: SimulationConfig = DEFAULT_CONFIG) -> complex:
        """γ = −i k (n − 1) in nm⁻¹."""
        return -1j * config.wavenumber * (complex(self.index) - 1.0)


SILVER_91EV = RefractiveIndex(1 - 0.110 + 0.079j)


def resolve_material(attenuation_length_nm: float | None = None,
                     refractive_index: complex | None = None,
                     material: Absorption | RefractiveIndex | None = None,
                     config: SimulationConfig = DEFAULT_CONFIG) -> Absorption | RefractiveIndex:
    """The material selected by at most one of the three ways of naming it (default: SPEC's)."""
    given = [x is not None for x in (attenuation_length_nm, refractive_index, material)]
    if sum(given) > 1:
        raise ValueError("give at most one of attenuation_length_nm, refractive_index, material")
    if material is not None:
        return material
    if refractive_index is not None:
        return RefractiveIndex(refractive_index)
    if attenuation_length_nm is not None:
        return Absorption(float(attenuation_length_nm))
    return Absorption(config.attenuation_length_nm)


#: Material names of the command line (``--material``).
MATERIALS = ("absorption", "silver-91ev", "born")


def describe_material(material: Absorption | RefractiveIndex) -> dict:
    """JSON-ready description of a material (data-set attribute, model card)."""
    if isinstance(material, RefractiveIndex):
        index = complex(material.index)
        return {"kind": "refractive-index", "index_real": index.real, "index_imag": index.imag}
    return {"kind": "absorption", "attenuation_length_nm": material.attenuation_length_nm}


def material_from_description(description: dict) -> Absorption | RefractiveIndex:
    """Inverse of :func:`describe_material`; ``ValueError`` for an unknown kind."""
    kind = description.get("kind")
    if kind == "refractive-index":
        return RefractiveIndex(complex(description["index_real"], description["index_imag"]))
    if kind == "absorption":
        return Absorption(float(description["attenuation_length_nm"]))
    raise ValueError(f"unknown material kind {kind!r} (absorption or refractive-index)")


def parse_material(text: str, config: SimulationConfig = DEFAULT_CONFIG
                   ) -> Absorption | RefractiveIndex:
    """A material from the command line: "absorption" (SPEC's ℓ of ``config``),
    "absorption:ℓ" (ℓ in nm), "born" (no absorption), "silver-91ev" (:data:`SILVER_91EV`), or
    "index:δ,β" (n = 1 − δ + iβ)."""
    name, _, value = text.partition(":")
    try:
        if name == "absorption":
            return Absorption(float(value) if value else config.attenuation_length_nm)
        if name == "born" and not value:
            return Absorption(math.inf)
        if name == "silver-91ev" and not value:
            return SILVER_91EV
        if name == "index":
            delta, beta = (float(part) for part in value.split(","))
            return RefractiveIndex(complex(1 - delta, beta))
    except ValueError as error:
        raise ValueError(f"material {text!r}: {error}") from None
    raise ValueError(f"unknown material {text!r}; use absorption[:LENGTH_NM], born, silver-91ev "
                     "or index:DELTA,BETA")
