"""Statistics of particle tables: size and shape distributions, and change between batches.

* :mod:`flocshape.stats.distributions`: D10/D50/D90 and shape medians with CIs, per-image and per-dataset
  summaries;
* :mod:`flocshape.stats.quantiles`: weighted quantiles and means, vectorised percentile bootstrap;
* :mod:`flocshape.stats.weights`: which particles count (border, too_small, low_score) and their weights.
* :mod:`flocshape.stats.compare`: batch B (C, ...) against batch A per descriptor (Delta median with CI,
  KS, Wasserstein, Cliff's delta, Holm-adjusted p-values).
* :mod:`flocshape.stats.verdict`: plain-language verdict lines.
"""
