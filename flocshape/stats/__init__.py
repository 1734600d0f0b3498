"""Statistics of particle tables: size and shape distributions, and change between batches.

* :mod:`flocshape.stats.distributions`: weighted quantiles, vectorised bootstrap, D10/D50/D90, per-image
  and per-dataset summaries.
* :mod:`flocshape.stats.compare`: batch B (C, ...) against batch A per descriptor (Delta median with CI,
  KS, Wasserstein, Cliff's delta, Holm-adjusted p-values).
* :mod:`flocshape.stats.verdict`: plain-language verdict lines.
"""
