"""Format layer: COCO <-> Ultralytics YOLO-seg, instance label maps -> COCO, labelling-tool round trips.

Modules: :mod:`~flocshape.convert.coco` (load + validate COCO), :mod:`~flocshape.convert.rings`
(mask <-> single-ring outlines; fast RLE crops are :func:`flocshape.masks.decode_rle_crop`),
:mod:`~flocshape.convert.split` (group split), :mod:`~flocshape.convert.to_yolo` (COCO -> YOLO),
:mod:`~flocshape.convert.labelmap` (label maps -> COCO), :mod:`~flocshape.convert.from_yolo` (YOLO -> COCO),
:mod:`~flocshape.convert.export` (predictions -> CVAT / Label Studio pre-annotations, with
:mod:`~flocshape.convert.labelling` and :mod:`~flocshape.convert.frameset`), :mod:`~flocshape.convert.interop`
(how labelling tools name frames and mark masks in their COCO exports).
"""
