"""Format layer: COCO <-> Ultralytics YOLO-seg, instance label maps -> COCO.

Modules: :mod:`~flocshape.convert.coco` (load + validate COCO), :mod:`~flocshape.convert.rings`
(mask <-> single-ring outlines; fast RLE crops are :func:`flocshape.masks.decode_rle_crop`),
:mod:`~flocshape.convert.split` (group split), :mod:`~flocshape.convert.to_yolo` (COCO -> YOLO),
:mod:`~flocshape.convert.labelmap` (label maps -> COCO), :mod:`~flocshape.convert.from_yolo` (YOLO -> COCO).
"""
