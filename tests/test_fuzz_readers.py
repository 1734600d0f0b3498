"""Fuzz (hypothesis): malformed COCO files and results lists fed to every reader of the pipeline.

Each reader must either accept the input or raise :class:`flocshape.errors.InputError` (one line, exit code 2 at
the command line); any other exception is a traceback for the user and fails the test. Inputs are built from a
valid skeleton whose every field may be replaced by junk (wrong types, NaN, infinities, huge or negative
numbers, missing keys), plus arbitrary JSON values; image sides stay small so that valid masks decode fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flocshape.errors import InputError
from flocshape.masks import encode_rle

# FLOCSHAPE_FUZZ_EXAMPLES: more examples for a longer hunt (the suite runs 120)
FUZZ = settings(
    max_examples=int(os.environ.get("FLOCSHAPE_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(10**5, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=4),
    st.lists(st.integers(-2, 40), max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(-1, 3), max_size=2),
)
ANY_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def _segmentation(draw: st.DrawFn, height: int, width: int) -> Any:
    kind = draw(st.sampled_from(["rle"] * 8 + ["polygon"] * 6 + ["uncompressed"] * 3 + ["bad_rle", "junk"]))
    if kind in ("rle", "uncompressed"):
        rng = np.random.default_rng(draw(st.integers(0, 2**16)))
        mask = rng.random((height, width)) < draw(st.floats(0.0, 1.0))
        rle = encode_rle(mask)
        if kind == "uncompressed":
            from flocshape.masks import rle_string_to_counts

            return {"size": [height, width], "counts": [int(c) for c in rle_string_to_counts(rle["counts"])]}
        return rle
    if kind == "polygon":
        xy = st.tuples(st.floats(-1.2 * width, 2.2 * width), st.floats(-1.2 * height, 2.2 * height))
        points = draw(st.lists(xy, min_size=2, max_size=6))  # 2 points: too few
        return [[v for point in points for v in point]]
    if kind == "bad_rle":
        size = draw(st.one_of(st.just([height, width]), JUNK))
        return {"size": size, "counts": draw(st.one_of(st.text(max_size=8), JUNK))}
    return draw(JUNK)


@st.composite
def _record(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A record with valid fields, except (one time in six) one field replaced by junk or missing."""
    rec = {key: draw(value) for key, value in fields.items()}
    if draw(st.integers(0, 5)) == 0:
        key = draw(st.sampled_from(sorted(fields)))
        if draw(st.booleans()):
            rec.pop(key)
        else:
            rec[key] = draw(JUNK)
    return rec


@st.composite
def coco_files(draw: st.DrawFn) -> tuple[Any, Any]:
    """``(ground truth, results list)``, each possibly malformed anywhere."""
    n_images = draw(st.integers(1, 3))
    sizes = [(draw(st.integers(1, 24)), draw(st.integers(1, 24))) for _ in range(n_images)]
    images = [
        draw(_record({"id": st.just(k + 1), "file_name": st.just(f"{k + 1:04d}.jpg"), "height": st.just(h),
                      "width": st.just(w)}))
        for k, (h, w) in enumerate(sizes)
    ]  # fmt: skip
    anns, preds = [], []
    for j in range(draw(st.integers(0, 5))):
        k = draw(st.integers(0, n_images - 1))
        h, w = sizes[k]
        fields = {"id": st.just(j + 1), "image_id": st.just(k + 1), "category_id": st.just(1),
                  "segmentation": _segmentation(h, w), "area": st.floats(0, 100), "iscrowd": st.just(0),
                  "bbox": st.just([0.0, 0.0, 1.0, 1.0])}  # fmt: skip
        anns.append(draw(_record(fields)))
        pred_fields = {"image_id": st.just(k + 1), "category_id": st.just(1), "score": st.floats(0, 1),
                       "segmentation": _segmentation(h, w)}  # fmt: skip
        preds.append(draw(_record(pred_fields)))
    gt: Any = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "floc"}]}
    if draw(st.integers(0, 19)) == 0:
        gt = draw(ANY_JSON)
    if draw(st.integers(0, 19)) == 0:
        preds = draw(ANY_JSON)
    return gt, preds


def _expect_input_error(read: Callable[[], object]) -> None:
    """``read()`` returns or raises InputError; anything else propagates and fails the test. Warnings (e.g.
    about repeated predictions) are not shown."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            read()
    except InputError as exc:
        assert "\n" not in str(exc)


def _write(folder: Path, name: str, obj: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(obj, allow_nan=True))
    return path


@FUZZ
@given(coco_files())
def test_every_reader_accepts_or_says_why(files: tuple[Any, Any]) -> None:
    from flocshape.convert.coco import load_coco
    from flocshape.infer.checks import check_images_json
    from flocshape.report.load import read_submission
    from flocshape.score.inputs import prepare, require_overlap
    from flocshape.shape.sources import measure_coco
    from flocshape.track.instances import load_instances

    gt, preds = files
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gt_path, pred_path = _write(folder, "gt.json", gt), _write(folder, "pred.json", preds)
        _expect_input_error(lambda: require_overlap(prepare(gt, preds, gt_path, pred_path), pred_path))
        _expect_input_error(lambda: measure_coco(gt_path))
        _expect_input_error(lambda: measure_coco(pred_path, images_json=gt_path))
        _expect_input_error(lambda: measure_coco(pred_path))
        _expect_input_error(lambda: load_instances(gt_path))
        _expect_input_error(lambda: load_instances(pred_path, gt_path))
        _expect_input_error(lambda: read_submission(pred_path))
        _expect_input_error(lambda: check_images_json(gt_path, []))
        _expect_input_error(lambda: load_coco(gt_path))


@FUZZ
@given(ANY_JSON, ANY_JSON)
def test_arbitrary_json_is_accepted_or_refused(gt: Any, preds: Any) -> None:
    from flocshape.score.inputs import prepare
    from flocshape.shape.sources import measure_coco
    from flocshape.track.instances import load_instances

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gt_path, pred_path = _write(folder, "gt.json", gt), _write(folder, "pred.json", preds)
        _expect_input_error(lambda: prepare(gt, preds, gt_path, pred_path))
        _expect_input_error(lambda: measure_coco(gt_path))
        _expect_input_error(lambda: measure_coco(pred_path, images_json=gt_path))
        _expect_input_error(lambda: load_instances(pred_path, gt_path))
