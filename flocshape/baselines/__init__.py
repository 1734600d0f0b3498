"""Baselines scored side by side with the YOLO-seg pipeline.

* :mod:`flocshape.baselines.watershed` - grey threshold + distance-transform watershed (scikit-image), the way
  ImageJ users segment particles (``infer/watershed.py``): the run over a folder; one frame's segmentation in
  :mod:`flocshape.baselines.watershed_segment`, its settings in :mod:`flocshape.baselines.watershed_params`;
* :mod:`flocshape.baselines.search` - a small parameter search for it on a validation split;
* :mod:`flocshape.baselines.vanilla` - Ultralytics used straight from its documentation (convert_coco, train and
  predict with defaults; ``benchmarks/vanilla_baseline.py`` or ``kind: vanilla`` in a study file).
"""
