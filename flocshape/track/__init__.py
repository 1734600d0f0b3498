"""Change over time: link particles across the frames of a video block into tracks, and fit trends.

* :mod:`flocshape.track.instances`: read COCO ground truth or a results/submission list into one
  instance table (frame, block, RLE, area, centroid, box).
* :mod:`flocshape.track.associate`: mask-IoU Hungarian linking between consecutive frames with a
  gate, plus a centroid-distance fallback for small particles; :func:`build_tracks`.
* :mod:`flocshape.track.trends`: per-track time series and per-block slopes with 95 % CIs.
"""
