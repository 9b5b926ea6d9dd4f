"""One row of results per frame: the columns of the CSV and JSON, and how answers fill them."""
from __future__ import annotations

import numpy as np

from wideshot.fitting.api import IMAGE_NUISANCE_COLUMNS
from wideshot.reconstruction.sources import Frame
from wideshot.reconstruction.view_errors import SIGMA_COLUMNS

#: Columns of the CSV (and keys of each JSON row), in order.
#: The last three are the 1σ errors (empty where an answer has none): of the network's answers
#: from its views' spread, of refined counts answers from the likelihood's curvature.
COLUMNS = ("source", "frame", "dataset", "status", "radius_nm", "w", "x", "y", "z", "misfit",
           "reason", "shape", "shape_probability", "shape_parameter") + SIGMA_COLUMNS

#: Columns added with counts (``intensity="counts"`` and a saturation, threshold or gain, or
#: ``counts=True``): the likelihood's verdict.
COUNTS_COLUMNS = ("photons", "deviance", "gof_p_value", "dispersion", "centre_offset_row_px",
                  "centre_offset_column_px")

#: Row statuses: answered; answered but not explained by any family the model knows; not
#: answered.
STATUSES = ("ok", "flagged", "failed")


def failed_row(frame: Frame) -> dict:
    """The row of a frame that could not be read or prepared (its reason)."""
    return {"source": frame.source, "frame": frame.index, "dataset": frame.dataset,
            "status": "failed", "reason": frame.error}


def answer_rows(frames: list[Frame], result: dict) -> list[dict]:
    """The rows of answered frames from :func:`~wideshot.reconstruction.reconstruct`'s result
    (or :func:`wideshot.fit`'s, with ``shape`` per frame and ``flagged``)."""
    rows = []
    for index, frame in enumerate(frames):
        w, x, y, z = (float(value) for value in result["quaternion"][index])
        flagged = bool(result["flagged"][index])
        parameter = float(result["shape_parameter"][index])
        probability = result.get("shape_probability")
        rows.append({"source": frame.source, "frame": frame.index, "dataset": frame.dataset,
                     "status": "flagged" if flagged else "ok",
                     "radius_nm": round(float(result["radius_nm"][index]), 4),
                     "w": w, "x": x, "y": y, "z": z,
                     "misfit": (None if np.isnan(result["misfit"][index])  # not checked
                                else round(float(result["misfit"][index]), 6)),
                     "reason": (f"misfit {result['misfit'][index]:.3f} > "
                                f"{result['max_misfit']:.3f}: not explained by "
                                f"{_family_phrase(result)}"
                                if flagged and "deviance" not in result else None),
                     "shape": result["shape"][index],
                     "shape_probability": (None if probability is None  # the forward fit
                                           else round(float(probability[index]), 6)),
                     "shape_parameter": None if np.isnan(parameter) else round(parameter, 6)})
        measured = (SIGMA_COLUMNS + (COUNTS_COLUMNS if "deviance" in result else ())
                    + tuple(name for name in IMAGE_NUISANCE_COLUMNS if name in result))
        for name in measured:  # six significant digits; empty where not computed
            value = float(result[name][index]) if name in result else np.nan
            rows[-1][name] = None if np.isnan(value) else float(f"{value:.6g}")
        if "deviance" in result:
            if flagged:
                rows[-1]["reason"] = (f"goodness of fit p = {result['gof_p_value'][index]:.2g}, "
                                      f"dispersion {result['dispersion'][index]:.2f}: the counts "
                                      f"are not explained by {_family_phrase(result)}")
            elif result["weak_evidence"][index]:
                rows[-1]["reason"] = f"weak evidence: {result['photons'][index]:.0f} photons"
    return rows


def _family_phrase(result: dict) -> str:
    """"an icosahedron" or "any of icosahedron, decahedron, ..." for a flagged row's reason."""
    shapes = result.get("shapes") or sorted(set(result["shape"]))
    return f"a {shapes[0]}" if len(shapes) == 1 else f"any of {', '.join(shapes)}"
