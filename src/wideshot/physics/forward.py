"""The forward model: particle parameters (or a density) in, far fields and SPEC images out.

``far_field``/``simulate`` use the exact MSFT of every shape family
(:mod:`~wideshot.physics.particle`); ``density_far_field``/``simulate_density`` the slice-wise
MSFT of an arbitrary voxel density (:mod:`~wideshot.physics.density_msft`). The torch entry
point :func:`~wideshot.physics.particle.particle_amplitude` runs unchanged on CPU and CUDA.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from wideshot.config import DEFAULT_CONFIG, SimulationConfig
from wideshot.devices import resolve_device
from wideshot.geometry import validate_quaternions
from wideshot.geometry.shapes import DEFAULT_SHAPE, shape_batch
from wideshot.physics.density_msft import density_amplitude, validate_density
from wideshot.physics.detector import KGridDetector
from wideshot.physics.image import spec_image
from wideshot.physics.material import Absorption, RefractiveIndex, resolve_material
from wideshot.physics.particle import particle_amplitude

PRECISIONS = {"single": torch.float32, "double": torch.float64}


def validate_radius(radius_nm, name: str = "radius_nm") -> np.ndarray:
    """Radii as a float64 array (B,); ``ValueError`` if not finite and positive."""
    radius = np.atleast_1d(np.asarray(radius_nm, dtype=np.float64))
    if radius.ndim != 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {radius.shape}")
    if not np.all(np.isfinite(radius)):
        raise ValueError(f"{name} must be finite, got {radius_nm!r}")
    if np.any(radius <= 0):
        raise ValueError(f"{name} must be positive, got {radius_nm!r}")
    return radius


def _real_dtype(precision: str) -> torch.dtype:
    """torch float dtype of a precision name; ``ValueError`` for an unknown one."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


def _broadcast_parameters(radius_nm, quaternion, shape, shape_parameter
                          ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Radii (B,), quaternions (B, 4), family names and parameters (B,), validated; any of them
    given once is repeated to the batch size of the others."""
    radius = validate_radius(radius_nm)
    quats = np.asarray(validate_quaternions(np.asarray(quaternion, dtype=np.float64), "quaternion"))
    lengths = {"radius_nm": len(radius), "quaternion": len(quats)}
    if not isinstance(shape, str) and np.ndim(shape) == 1:
        lengths["shape"] = len(shape)
    if shape_parameter is not None and np.ndim(shape_parameter) == 1:
        lengths["shape_parameter"] = len(shape_parameter)
    batch = max(lengths.values())
    mismatched = {name: n for name, n in lengths.items() if n not in (1, batch)}
    if mismatched:
        raise ValueError("the particle parameters have different lengths: "
                         + ", ".join(f"{name} {n}" for name, n in lengths.items()))
    names, parameters = shape_batch(
        shape if lengths.get("shape", batch) == batch else list(shape) * batch,
        shape_parameter if lengths.get("shape_parameter", batch) == batch
        else np.repeat(shape_parameter, batch), batch)
    return (np.repeat(radius, batch // len(radius)), np.repeat(quats, batch // len(quats), axis=0),
            names, parameters)


@dataclass(frozen=True)
class PreparedPixels:
    """Momentum transfers of some pixels, ready for :func:`icosahedron_amplitude` (prepare once).

    Attributes
    ----------
    q : tensor (P, 3)
        On the compute device, in the dtype the sum runs in (float64 on a CPU, where the fused
        kernel always works in double; else the requested precision, double in the Born limit).
    attenuation : complex
        γ of the material (nm⁻¹).
    result_dtype : torch.dtype
        Real dtype of the amplitudes the caller should keep (float32 or float64).
    """

    q: torch.Tensor
    attenuation: complex
    result_dtype: torch.dtype

    @classmethod
    def of(cls, q: np.ndarray, material: Absorption | RefractiveIndex, config: SimulationConfig,
           precision: str = "single", device=None) -> PreparedPixels:
        """From momentum transfers (P, 3) in nm⁻¹, a material, a precision name and a device."""
        attenuation = material.attenuation(config)
        # Without absorption (S_in − S_out)/(i q_z) cancels near the forward direction: double.
        result_dtype = torch.float64 if attenuation == 0 else _real_dtype(precision)
        device = resolve_device(device)
        q_dtype = torch.float64 if device.type == "cpu" else result_dtype
        return cls(torch.as_tensor(q, dtype=q_dtype, device=device), attenuation, result_dtype)


def far_field(radius_nm, quaternion, *, shape=DEFAULT_SHAPE, shape_parameter=None,
              attenuation_length_nm: float | None = None,
              refractive_index: complex | None = None,
              material: Absorption | RefractiveIndex | None = None,
              detector=None, config: SimulationConfig = DEFAULT_CONFIG,
              precision: str = "single", device=None, batch_size: int = 256) -> np.ndarray:
    """Complex far field of particles on a detector (SPEC forward model, exact MSFT).

    Parameters
    ----------
    radius_nm : float or array (B,)
        Circumradius R (nm), > 0.
    quaternion : array (4,) or (B, 4)
        Orientation (w, x, y, z), scalar first, active; normalised if slightly non-unit.
    shape : str or sequence of B str
        Shape family of all particles or of each (:data:`~wideshot.geometry.SHAPE_NAMES`).
    shape_parameter : None, float or array (B,)
        The family's parameter (its range in :data:`~wideshot.geometry.SHAPE_FAMILIES`); None
        or NaN for a family without one.
    attenuation_length_nm, refractive_index, material
        At most one: ℓ of the absorption-only model (default SPEC's 12.5 nm; ``math.inf`` = Born
        limit), a complex index n for the refractive model, or a material object.
    detector : KGridDetector or FlatDetector, optional
        Default: SPEC's 128×128 k-grid.
    precision : {"single", "double"}
        dtype of the result (complex64/complex128). On a CPU the sum is always evaluated in
        float64; on CUDA in the requested precision (single: relative amplitude error ≲1e-4
        above the intensity floor). The Born limit (no absorption) always runs in double,
        because (S_in − S_out)/(i q_z) cancels near the forward direction.
    device : str or torch.device, optional
        Where to compute (``"cpu"``, ``"cuda"``); default CPU.
    batch_size : int
        Particles per step (memory).

    Returns
    -------
    ndarray (B, H, W) complex64 or complex128
        A in nm³; 0 where no field arrives.
    """
    radius, quats, names, parameters = _broadcast_parameters(radius_nm, quaternion, shape,
                                                              shape_parameter)
    chosen = resolve_material(attenuation_length_nm, refractive_index, material, config)
    detector = detector or KGridDetector(config)
    illuminated = detector.illuminated
    pixels = PreparedPixels.of(detector.q[illuminated], chosen, config, precision, device)
    q, attenuation = pixels.q, pixels.attenuation
    radius_t = torch.as_tensor(radius, device=q.device)
    quats_t = torch.as_tensor(quats, device=q.device)
    complex_dtype = np.complex128 if pixels.result_dtype == torch.float64 else np.complex64
    out = np.zeros((len(radius),) + illuminated.shape, dtype=complex_dtype)
    with torch.no_grad():
        for start in range(0, len(radius), batch_size):
            stop = start + batch_size
            amplitude = particle_amplitude(radius_t[start:stop], quats_t[start:stop], q,
                                           attenuation, names[start:stop],
                                           parameters[start:stop], kernel="auto")
            out[start:stop, illuminated] = amplitude.cpu().numpy()
    return out


def simulate(radius_nm, quaternion, shape=DEFAULT_SHAPE, shape_parameter=None,
             **options) -> np.ndarray:
    """SPEC images of particles: log(|A|²/v₀² + 100), scaled per image to [0, 1].

    Parameters
    ----------
    radius_nm : float or array (B,)
        Circumradius R in nm (training range 30–160 nm).
    quaternion : array (4,) or (B, 4)
        Orientation (w, x, y, z), scalar first, active.
    shape, shape_parameter
        Shape family (one, or one per particle) and its parameter; see :func:`far_field`.
    **options
        Passed to :func:`far_field` (material, detector, precision, device, ...).

    Returns
    -------
    ndarray (B, H, W) float32
        The images; (B, 128, 128) on the default detector.

    Examples
    --------
    >>> import wideshot
    >>> wideshot.simulate(120.0, [1, 0, 0, 0]).shape
    (1, 128, 128)
    >>> wideshot.simulate(80.0, [1, 0, 0, 0], shape="decahedron", shape_parameter=0.8).shape
    (1, 128, 128)
    """
    config = options.get("config", DEFAULT_CONFIG)
    return spec_image(far_field(radius_nm, quaternion, shape=shape,
                                shape_parameter=shape_parameter, **options), config)


def density_far_field(density, voxel_nm: float, *, attenuation_length_nm: float | None = None,
                      refractive_index: complex | None = None,
                      material: Absorption | RefractiveIndex | None = None,
                      config: SimulationConfig = DEFAULT_CONFIG, precision: str = "single",
                      device=None) -> np.ndarray:
    """Complex far field of arbitrary densities on SPEC's default detector (slice-wise MSFT).

    Parameters
    ----------
    density : array (z, y, x) or (B, z, y, x)
        Scattering density (1 = particle, fractions allowed), centred on the origin with voxel
        centres at (i − n/2)·voxel_nm along each axis.
    voxel_nm : float
        Voxel edge (nm).
    attenuation_length_nm, refractive_index, material, precision, device
        As in :func:`far_field`.

    Returns
    -------
    ndarray (B, 128, 128) complex
        A in nm³.
    """
    batch = validate_density(density)
    if not np.isfinite(voxel_nm) or voxel_nm <= 0:
        raise ValueError(f"voxel_nm must be positive and finite, got {voxel_nm!r}")
    chosen = resolve_material(attenuation_length_nm, refractive_index, material, config)
    real_dtype = _real_dtype(precision)
    detector = KGridDetector(config)
    device = resolve_device(device)
    with torch.no_grad():
        amplitudes = [density_amplitude(torch.as_tensor(item, device=device), voxel_nm, detector,
                                        chosen.attenuation(config), real_dtype)
                      for item in batch]
    return np.stack([a.cpu().numpy() for a in amplitudes])


def simulate_density(density, voxel_nm: float, **options) -> np.ndarray:
    """SPEC images (B, 128, 128) float32 of arbitrary densities; see :func:`density_far_field`."""
    config = options.get("config", DEFAULT_CONFIG)
    return spec_image(density_far_field(density, voxel_nm, **options), config)
