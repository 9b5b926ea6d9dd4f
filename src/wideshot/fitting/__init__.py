"""Forward fitting: simulate, compare, adjust — the paper's Monte-Carlo simplex and a hybrid.

- :mod:`.misfit` — :func:`pattern_misfit`, unexplained variance after an affine scaling;
- :mod:`.simplex` — batched Nelder–Mead (many simplexes, one simulation batch per step);
- :mod:`.objective` — :class:`PatternObjective`: (R, rotation vector) → misfit, counting
  simulations;
- :mod:`.nuisance` — beam offset and detector blur of a log image, estimated and allowed for;
- :mod:`.search` — :func:`monte_carlo_simplex`, :func:`refine`, :func:`refine_guess` on one
  pattern;
- :mod:`.api` — :func:`fit`, images in, radius and orientation out ("mcs" or "hybrid").
"""
from wideshot.fitting.api import DEFAULT_BUDGET, METHODS, fit
from wideshot.fitting.misfit import pattern_misfit
from wideshot.fitting.objective import PatternObjective
from wideshot.fitting.search import FitResult, monte_carlo_simplex, refine, refine_guess
from wideshot.fitting.simplex import SimplexResult, axis_simplex, nelder_mead

__all__ = [
    "DEFAULT_BUDGET", "METHODS", "FitResult", "PatternObjective", "SimplexResult",
    "axis_simplex", "fit", "monte_carlo_simplex", "nelder_mead", "pattern_misfit", "refine",
    "refine_guess",
]
