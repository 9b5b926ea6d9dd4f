"""Figure: wideshot's exact MSFT beside the paper's literal voxel MSFT, and its convergence.

    python benchmarks/figure_validation.py --out docs/validation.png

Left to right: wideshot.simulate; the literal MSFT on SPEC's 192³ reference grid (binary voxels,
192 slices, 512² FFTs — the independent test reference); their difference; and the median
relative amplitude error of the literal MSFT against wideshot as its voxels shrink (h, h/2, h/4).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/validation.png"))
    parser.add_argument("--radius-nm", type=float, default=60.0)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference.literal_msft import icosahedron_density, msft_amplitude
    from reference.spec import spec_image

    from wideshot.evaluation.figures import draw_pattern
    from wideshot.physics import far_field

    quaternion = np.array([0.828, 0.343, 0.292, -0.334])
    quaternion /= np.linalg.norm(quaternion)
    exact = far_field(args.radius_nm, quaternion, precision="double")[0]
    signal = np.abs(exact) ** 2 / (318.75 / 192) ** 6 > 100
    voxel_nm = 318.75 / 192
    literal = {}
    for refine in (1, 2, 4):
        n = 192 * refine if refine == 1 else int(2.3 * args.radius_nm / (voxel_nm / refine)) // 2 * 2
        density = icosahedron_density(args.radius_nm, quaternion, n=n, voxel_nm=voxel_nm / refine)
        literal[refine] = msft_amplitude(density, voxel_nm / refine, method="dft")
    errors = [np.median(np.abs(literal[r] - exact)[signal] / np.abs(exact)[signal]) for r in (1, 2, 4)]

    figure, axes = plt.subplots(1, 4, figsize=(17, 4.2), dpi=110)
    draw_pattern(axes[0], spec_image(exact), "wideshot (exact analytic MSFT)")
    draw_pattern(axes[1], spec_image(literal[1]), "literal MSFT, 192³ voxels (reference)")
    difference = spec_image(literal[1]) - spec_image(exact)
    artist = axes[2].imshow(difference, cmap="RdBu_r", vmin=-0.1, vmax=0.1)
    axes[2].set_title("difference of the two images", fontsize=9)
    axes[2].set_axis_off()
    figure.colorbar(artist, ax=axes[2], fraction=0.046)
    axes[3].loglog([voxel_nm, voxel_nm / 2, voxel_nm / 4], errors, "o-", label="literal MSFT vs wideshot")
    axes[3].loglog([voxel_nm, voxel_nm / 4], [errors[0], errors[0] / 16], "k--", lw=0.8, label="∝ h²")
    axes[3].set_xlabel("voxel size h (nm)")
    axes[3].set_ylabel("median relative amplitude error")
    axes[3].set_title(f"the voxel MSFT converges to wideshot (R = {args.radius_nm:g} nm)", fontsize=9)
    axes[3].legend(fontsize=8)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out)
    print(f"median relative amplitude error at h, h/2, h/4: {np.round(errors, 5)}; wrote {args.out}")


if __name__ == "__main__":
    main()
