"""The self-contained HTML report of one or more inference runs (``infer/report.py``).

Public entry points: :func:`flocshape.report.build.build_report` (folders in, ``report.html`` out) and
:func:`flocshape.report.build.render_report` (loaded runs in, HTML string out).
"""
