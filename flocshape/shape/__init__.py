"""Per-particle shape descriptors: one table row per instance mask.

Entry points:

* :func:`flocshape.shape.measure.measure_instances` - the masks (COCO compressed RLE) of one frame;
* :func:`flocshape.shape.sources.measure_coco` - a COCO instances file or a results (submission) list;
* :func:`flocshape.shape.measure.measure_labelmap` - a 2-D instance label map.

Column names, units and conventions are in :mod:`flocshape.shape.schema` and ``docs/shape.md``.
"""
