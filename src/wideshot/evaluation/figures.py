"""Figures (matplotlib, headless): diffraction patterns, error distributions of a test set."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogFormatter  # noqa: E402

from wideshot.config import DEFAULT_CONFIG, RADIUS_RANGE_NM, SimulationConfig  # noqa: E402


def scattering_extent(config: SimulationConfig = DEFAULT_CONFIG) -> list[float]:
    """imshow extent [left, right, bottom, top] in k_perp/k for the default detector grid."""
    n = config.grid_size
    half = config.pixel_dk / config.wavenumber
    return [(-n // 2 - 0.5) * half, (n - n // 2 - 0.5) * half,
            (n - n // 2 - 0.5) * half, (-n // 2 - 0.5) * half]


def draw_pattern(axes, image: np.ndarray, title: str | None = None,
                 config: SimulationConfig = DEFAULT_CONFIG):
    """Draw one SPEC image (H, W) on matplotlib axes with k_perp/k axes; returns the image artist."""
    artist = axes.imshow(image, cmap="inferno", vmin=0.0, vmax=1.0, extent=scattering_extent(config))
    axes.set_xlabel(r"$k_x/k$")
    axes.set_ylabel(r"$k_y/k$")
    if title:
        axes.set_title(title, fontsize=9)
    return artist


def save_pattern_png(image: np.ndarray, path: Path, title: str | None = None) -> None:
    """Save one SPEC image as a PNG with axes and a colour bar."""
    figure, axes = plt.subplots(figsize=(5.2, 4.4), dpi=120)
    artist = draw_pattern(axes, image, title)
    figure.colorbar(artist, ax=axes, label="log-intensity, scaled to [0, 1]")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


# --------------------------------------------------------------------------------------------
# Error distributions of a test set (wideshot evaluate)
# --------------------------------------------------------------------------------------------

#: Bins of the error histograms.
HISTOGRAM_BINS = 50

#: Radius bins of the error-versus-radius figure (over the training range).
RADIUS_BINS = 13


def save_pattern_grid(panels: dict[str, np.ndarray], path: Path, title: str | None = None,
                      columns: int = 6) -> None:
    """Save SPEC images (H, W) side by side, one titled panel each (e.g. the paper's Fig. 2)."""
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.3 * columns, 2.45 * rows), dpi=110,
                                sharex=True, sharey=True, squeeze=False)
    for panel, (name, image) in zip(axes.flat, panels.items()):
        draw_pattern(panel, image, title=name)
        panel.label_outer()
    for panel in axes.flat[len(panels):]:
        panel.set_visible(False)
        # The panel above an empty slot ends its column: give it the k_x axis labels.
        above = axes[-2, list(axes[-1]).index(panel)]
        above.xaxis.set_tick_params(labelbottom=True)
        above.set_xlabel(r"$k_x/k$")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _finite(values) -> np.ndarray:
    """float64 copy of ``values`` without NaN and infinities (errors that are undefined, such
    as the orientation of a sphere)."""
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]


def _histogram(axes, values: np.ndarray, quantity: str, unit: str, color: str) -> None:
    """Histogram of non-negative errors with a log count axis and the median marked (NaN
    values are left out)."""
    values = _finite(values)
    upper = float(values.max()) if len(values) and values.max() > 0 else 1.0
    axes.hist(values, bins=np.linspace(0.0, upper, HISTOGRAM_BINS + 1), color=color,
              edgecolor="none", alpha=0.85)
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(LogFormatter())  # plain counts, not powers of ten
    axes.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))
    median = float(np.median(values)) if len(values) else float("nan")
    axes.axvline(median, color="black", linestyle="--", linewidth=1,
                 label=f"median {median:.3g} {unit}")
    axes.set_xlabel(f"{quantity} ({unit})")
    axes.set_ylabel("images")
    axes.set_xlim(0.0, upper)
    axes.legend(frameon=False, fontsize=8)


def _save(figure, path: Path, title: str | None) -> None:
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def save_relative_error_histograms(mean_percent: np.ndarray, max_percent: np.ndarray,
                                   path: Path, title: str | None = None) -> None:
    """The paper's Figure 4a: histograms of the mean and max relative error per image.

    Parameters
    ----------
    mean_percent, max_percent : numpy.ndarray, shape (B,)
        Mean and largest of the five relative errors of each image, in % (docs/conventions.md
        "Parameter vector and error measures").
    path : Path
        Output image (.png, .pdf, .svg).
    title : str, optional
        Figure title (e.g. model and data set).
    """
    figure, (left, right) = plt.subplots(1, 2, figsize=(9.0, 3.6), dpi=120)
    _histogram(left, mean_percent, "mean relative error", "%", "tab:blue")
    _histogram(right, max_percent, "max relative error", "%", "tab:orange")
    _save(figure, path, title)


def save_error_histogram(values: np.ndarray, path: Path, quantity: str, unit: str,
                         title: str | None = None) -> None:
    """Histogram (log count axis) of one error measure of shape (B,), e.g. quantity
    "misorientation" in unit "deg", or "radius error" in "nm"; NaN values (the orientation of
    a sphere) are left out."""
    figure, axes = plt.subplots(figsize=(5.0, 3.6), dpi=120)
    _histogram(axes, values, quantity, unit, "tab:green")
    _save(figure, path, title)


def save_errors_versus_radius(radius_nm: np.ndarray, errors: dict[str, np.ndarray], path: Path,
                              title: str | None = None,
                              radius_range_nm: tuple[float, float] = RADIUS_RANGE_NM) -> None:
    """Error measures against the true radius: one panel per measure, every image as a dot and
    the median and 90th percentile per radius bin as lines.

    Parameters
    ----------
    radius_nm : numpy.ndarray, shape (B,)
        True circumradius of each image (nm).
    errors : dict of str to numpy.ndarray, each shape (B,)
        Axis label (with unit) → error of each image (NaN where undefined: not drawn).
    path : Path
        Output image.
    title : str, optional
        Figure title.
    radius_range_nm : (float, float)
        Range of the radius bins.
    """
    radius_nm = np.asarray(radius_nm, dtype=np.float64)
    edges = np.linspace(*radius_range_nm, RADIUS_BINS + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    which_bin = np.clip(np.digitize(radius_nm, edges) - 1, 0, RADIUS_BINS - 1)
    figure, panels = plt.subplots(1, len(errors), figsize=(4.0 * len(errors), 3.6), dpi=120,
                                  squeeze=False)
    for axes, (label, values) in zip(panels[0], errors.items()):
        values = np.asarray(values, dtype=np.float64)
        defined = np.isfinite(values)
        axes.scatter(radius_nm[defined], values[defined], s=3, alpha=0.4, color="tab:blue",
                     linewidths=0)
        for percentile, style in ((50, "-"), (90, "--")):
            line = [np.percentile(values[defined & (which_bin == index)], percentile)
                    if np.any(defined & (which_bin == index)) else np.nan
                    for index in range(RADIUS_BINS)]
            axes.plot(centres, line, style, color="tab:red",
                      label="median" if percentile == 50 else "90th percentile")
        axes.set_xlabel("true radius R (nm)")
        axes.set_ylabel(label)
        axes.set_xlim(*radius_range_nm)
        axes.set_ylim(bottom=0.0)
        axes.legend(frameon=False, fontsize=8)
    _save(figure, path, title)


# --------------------------------------------------------------------------------------------
# Shape families of a mixed test set (wideshot evaluate with a network that classifies)
# --------------------------------------------------------------------------------------------

def save_confusion_matrix(counts: np.ndarray, shapes: list[str], path: Path,
                          title: str | None = None) -> None:
    """Confusion matrix of the shape families: each row normalised to the share of its true
    family, every cell annotated with its count.

    Parameters
    ----------
    counts : numpy.ndarray, shape (F, F), int
        Frames of true family i (row) predicted as family j (column)
        (:func:`wideshot.evaluation.classification.confusion_matrix`).
    shapes : list of str
        The F family names, in the order of the rows and columns.
    path : Path
        Output image.
    title : str, optional
        Figure title.
    """
    counts = np.asarray(counts)
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.where(totals > 0, counts / totals, np.nan)  # a family absent from the data
    size = 1.6 + 0.9 * len(shapes)
    figure, axes = plt.subplots(figsize=(size + 1.4, size), dpi=120)
    colours = matplotlib.colormaps["Blues"].with_extremes(bad="0.92")
    artist = axes.imshow(shares, cmap=colours, vmin=0.0, vmax=1.0)
    for (row, column), count in np.ndenumerate(counts):
        dark = np.isfinite(shares[row, column]) and shares[row, column] > 0.6
        axes.text(column, row, str(int(count)), ha="center", va="center", fontsize=9,
                  color="white" if dark else "black")
    ticks = np.arange(len(shapes))
    axes.set_xticks(ticks, shapes, rotation=30, ha="right")
    axes.set_yticks(ticks, shapes)
    axes.set_xlabel("predicted family")
    axes.set_ylabel("true family")
    figure.colorbar(artist, ax=axes, label="share of the true family's frames")
    _save(figure, path, title)


def save_reliability_diagram(bins: dict[str, np.ndarray], ece: float, path: Path,
                             title: str | None = None) -> None:
    """Reliability diagram of the family probabilities: accuracy against top-class confidence
    per bin (the diagonal is perfect calibration), frames per bin below; the expected
    calibration error in the title.

    Parameters
    ----------
    bins : dict of str to numpy.ndarray
        ``edges`` (M + 1,), ``count`` (M,), ``confidence`` (M,), ``accuracy`` (M,) as returned
        by :func:`wideshot.evaluation.classification.reliability_bins` (NaN for empty bins).
    ece : float
        Expected calibration error (0 to 1).
    path : Path
        Output image.
    title : str, optional
        First line of the title (e.g. model and data set).
    """
    edges = np.asarray(bins["edges"], dtype=np.float64)
    left, width = edges[:-1], np.diff(edges)
    accuracy = np.nan_to_num(np.asarray(bins["accuracy"], dtype=np.float64))
    confidence = np.asarray(bins["confidence"], dtype=np.float64)
    filled = np.asarray(bins["count"]) > 0
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(4.8, 5.4), dpi=120, sharex=True,
                                         gridspec_kw={"height_ratios": (3, 1)})
    top.bar(left[filled], accuracy[filled], width[filled], align="edge", color="tab:blue",
            edgecolor="white", label="accuracy")
    top.bar(left[filled], (confidence - accuracy)[filled], width[filled],
            bottom=accuracy[filled], align="edge", color="tab:red", alpha=0.3,
            edgecolor="tab:red", label="gap to mean confidence")
    top.plot([0, 1], [0, 1], "--", color="black", linewidth=1, label="perfect calibration")
    top.set_ylabel("accuracy")
    top.set_xlim(0.0, 1.0)
    top.set_ylim(0.0, 1.0)
    top.legend(frameon=False, fontsize=8, loc="upper left")
    bottom.bar(left, bins["count"], width, align="edge", color="0.5", edgecolor="white")
    bottom.set_xlabel("confidence (probability of the most probable family)")
    bottom.set_ylabel("frames")
    calibration = f"expected calibration error {ece:.3f} ({len(left)} bins)"
    _save(figure, path, f"{title}\n{calibration}" if title else calibration)


def save_family_error_boxes(errors: dict[str, dict[str, np.ndarray]], path: Path,
                            title: str | None = None) -> None:
    """Box plots of error measures per true shape family (whiskers at the 5th and 95th
    percentile): one panel per measure, one box per family.

    Parameters
    ----------
    errors : dict of str to dict of str to numpy.ndarray
        Axis label (with unit) → family name → error of each of its frames (n_f,). NaN values
        (undefined, such as a sphere's misorientation) are left out, and so are families
        without a value and panels without a family.
    path : Path
        Output image.
    title : str, optional
        Figure title.
    """
    panels = {label: {name: _finite(values) for name, values in by_family.items()}
              for label, by_family in errors.items()}
    panels = {label: {name: values for name, values in by_family.items() if len(values)}
              for label, by_family in panels.items()}
    panels = {label: by_family for label, by_family in panels.items() if by_family}
    if not panels:
        panels = {"no defined errors": {}}
    figure, axes_row = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.8), dpi=120,
                                    squeeze=False)
    for axes, (label, by_family) in zip(axes_row[0], panels.items()):
        if by_family:
            axes.boxplot(list(by_family.values()), whis=(5, 95), showfliers=True,
                         flierprops={"markersize": 2})
            axes.set_xticks(np.arange(1, len(by_family) + 1), list(by_family), rotation=30,
                            ha="right")
        axes.set_ylabel(label)
        axes.set_ylim(bottom=0.0)
    _save(figure, path, title)
