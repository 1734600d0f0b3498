"""Classical baselines scored side by side with the YOLO-seg pipeline (issue 6).

* :mod:`flocshape.baselines.watershed` - grey threshold + distance-transform watershed (scikit-image), the way
  ImageJ users segment particles (``infer/watershed.py``);
* :mod:`flocshape.baselines.search` - a small parameter search for it on a validation split.
"""
