"""``wideshot simulate``: one SPEC diffraction image of a particle, to PNG or NPY."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

HELP = """Simulate the wide-angle diffraction image of a silver nanoparticle of one of the shape
families (docs/conventions.md: icosahedron, decahedron, octahedral, twinned-tetrahedron, sphere)
with the forward model of the conventions: multi-slice Fourier transform with absorption,
λ = 13.5 nm, computed exactly (polyhedra) or by a converged 1-D quadrature (sphere). The image is
log(|A|²/v₀² + 100) scaled to [0, 1] on the 128×128 detector grid that is uniform in the
transverse wave vector (Δk = 0.0073920 nm⁻¹; the edge reaches the 90° scattering angle).

Example: wideshot simulate --shape decahedron --shape-parameter 0.8 --radius-nm 90 --out d.png"""

#: One line for `wideshot --help`.
SUMMARY = 'simulate one diffraction image'


def _quaternion(text: str) -> np.ndarray:
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected four numbers w,x,y,z, got {text!r}") from None
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected four numbers w,x,y,z, got {len(values)}")
    return np.array(values)


def _complex(text: str) -> complex:
    try:
        return complex(text.replace(" ", "").replace("i", "j"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a complex number like 0.89+0.079j, got {text!r}") from None


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("simulate", help=SUMMARY, description=HELP,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="icosahedron", metavar="FAMILY",
                        help="shape family: icosahedron (default), decahedron, octahedral, "
                             "twinned-tetrahedron or sphere")
    parser.add_argument("--shape-parameter", type=float, default=None, metavar="P",
                        help="the family's parameter: decahedron aspect in [0.4, 1.6], "
                             "octahedral truncation in [0, 1] (0 octahedron, 0.5 truncated "
                             "octahedron, 0.75 cuboctahedron, 1 cube), twinned-tetrahedron "
                             "truncation in [0, 0.5]; none for the icosahedron and sphere")
    parser.add_argument("--radius-nm", type=float, default=120.0,
                        help="circumradius R of the particle, centre to farthest point, in nm "
                             "(training range 30–160; default 120)")
    parser.add_argument("--quaternion", type=_quaternion, default=np.array([1.0, 0, 0, 0]),
                        metavar="W,X,Y,Z",
                        help="orientation as a unit quaternion, scalar first, active rotation of "
                             "the family's reference solid (docs/conventions.md); default "
                             "1,0,0,0. Normalised if not unit.")
    material = parser.add_mutually_exclusive_group()
    material.add_argument("--attenuation-length-nm", type=float, default=None,
                          help="attenuation length ℓ of the exciting field (default 12.5 nm, the "
                               "paper's); 'inf' for no absorption (Born limit)")
    material.add_argument("--refractive-index", type=_complex, default=None, metavar="N",
                          help="use refraction + absorption through a complex index instead, "
                               "e.g. 0.89+0.079j (silver at 91.8 eV)")
    parser.add_argument("--out", type=Path, default=Path("pattern.png"),
                        help="output file: .png (image with colour bar) or .npy (float32 "
                             "array 128×128); default pattern.png")
    parser.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default cpu)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from wideshot.physics import simulate

    suffix = args.out.suffix.lower()
    if suffix not in (".png", ".npy"):
        raise ValueError(f"--out must end in .png or .npy, got {args.out}")
    image = simulate(args.radius_nm, args.quaternion, shape=args.shape,
                     shape_parameter=args.shape_parameter,
                     attenuation_length_nm=args.attenuation_length_nm,
                     refractive_index=args.refractive_index, device=args.device)[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(args.out, image)
    else:
        from wideshot.evaluation.figures import save_pattern_png
        quaternion = args.quaternion / np.linalg.norm(args.quaternion)
        shape = args.shape + ("" if args.shape_parameter is None
                              else f" (p = {args.shape_parameter:g})")
        title = (f"{shape}, R = {args.radius_nm:g} nm, "
                 f"q = ({', '.join(f'{c:.3f}' for c in quaternion)})")
        save_pattern_png(image, args.out, title=title)
    print(f"wrote {args.out}")
    return 0
