"""The COCO reader (flocshape.coco): one validation, an index like pycocotools', masks decoded only on demand."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flocshape.coco import CocoFile, ResultsFile, group_by_image, read_instances, subset_coco
from flocshape.errors import InputError
from flocshape.masks import decode_segmentation, encode_rle
from flocshape.records import read_json_file

H, W = 20, 30


def _mask(y0: int, x0: int, h: int, w: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y0 : y0 + h, x0 : x0 + w] = True
    return m


def _coco() -> dict[str, Any]:
    """Two images (the second listed first), three annotations, one without category or score."""
    images = [
        {"id": 7, "file_name": "0007.png", "height": H, "width": W},
        {"id": 3, "file_name": "0003.png", "height": H, "width": W, "time_s": 1.5},
    ]
    anns = [
        {
            "id": 10,
            "image_id": 3,
            "category_id": 1,
            "segmentation": encode_rle(_mask(1, 2, 3, 4)),
            "score": 0.5,
        },
        {"id": 11, "image_id": 7, "category_id": 1, "segmentation": encode_rle(_mask(5, 5, 2, 2))},
        {"id": 12, "image_id": 3, "segmentation": [[2.0, 2.0, 8.0, 2.0, 8.0, 6.0, 2.0, 6.0]]},
    ]
    return {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "floc"}]}


def _write(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_coco_file_is_indexed_like_pycocotools() -> None:
    data = _coco()
    before = copy.deepcopy(data)
    coco = CocoFile.from_object(data, "gt.json")
    assert list(coco.images) == [7, 3] and coco.images[3].file_name == "0003.png"
    assert (coco.images[7].height, coco.images[7].width) == (H, W)
    assert coco.categories == frozenset({1}) and coco.used_categories() == frozenset({1})
    assert coco.annotations_by_image == {7: [1], 3: [0, 2]}
    assert coco.image_records[1]["time_s"] == 1.5  # extra keys of the images kept as given
    assert data == before  # only read


def test_instances_of_a_coco_file_follow_the_conventions() -> None:
    coco = CocoFile.from_object(_coco(), "gt.json")
    insts = list(coco.instances())
    assert [i.instance_id for i in insts] == [10, 11, 12] and [i.image_id for i in insts] == [3, 7, 3]
    assert [i.where for i in insts] == [
        "annotations[0] (id=10)",
        "annotations[1] (id=11)",
        "annotations[2] (id=12)",
    ]
    assert [i.category_id for i in insts] == [1, 1, -1]
    assert insts[0].score == 0.5 and math.isnan(insts[1].score)
    crop = insts[0].crop()
    assert (crop.x0, crop.y0, crop.crop.shape) == (2, 1, (3, 4)) and crop.crop.all()
    polygon = insts[2].crop()
    full = decode_segmentation(insts[2].segmentation, H, W)
    rows, cols = np.nonzero(full)
    assert (polygon.x0, polygon.y0) == (cols.min(), rows.min()) and polygon.crop.sum() == full.sum()


def test_categories_fall_back_to_those_the_annotations_use() -> None:
    data = _coco()
    data.pop("categories")
    data["annotations"][1]["category_id"] = 4
    coco = CocoFile.from_object(data, "gt.json")
    assert coco.categories is None and coco.used_categories() == frozenset({1, 4})


def test_masks_are_decoded_only_when_asked_for() -> None:
    data = _coco()
    data["annotations"][1]["segmentation"] = {"size": [H, W], "counts": "3"}  # covers 3 pixels, not H*W
    insts = list(CocoFile.from_object(data, "gt.json").instances())  # reading and indexing do not decode
    assert insts[0].rle()["size"] == [H, W]
    with pytest.raises(InputError) as err:
        insts[1].crop()
    assert str(err.value).startswith(
        "gt.json: annotations[1] (id=11): bad segmentation: RLE counts cover 3 pixels"
    )


def test_results_with_an_images_file_get_running_ids_and_refuse_unknown_images(tmp_path: Path) -> None:
    listed = {"images": _coco()["images"], "categories": [{"id": 1}]}
    names = CocoFile.from_object(listed, "names.json", need_annotations=False)
    assert names.annotations == [] and names.annotations_by_image == {7: [], 3: []}
    preds = [
        {"image_id": 3, "category_id": 1, "score": 0.9, "segmentation": encode_rle(_mask(0, 0, 2, 2))},
        {"image_id": 7, "category_id": 1, "score": 0.8, "segmentation": encode_rle(_mask(4, 4, 2, 2))},
        {"image_id": 3, "category_id": 1, "score": 0.7, "segmentation": encode_rle(_mask(9, 9, 2, 2))},
    ]
    results = ResultsFile.from_list(preds, "pred.json", names)
    insts = list(results.instances())
    assert [(i.image_id, i.instance_id) for i in insts] == [(3, 0), (7, 0), (3, 1)]
    assert insts[1].where == "prediction 1 (image_id 7)" and insts[2].image.file_name == "0003.png"
    assert results.image_records == names.image_records
    preds[1]["image_id"] = 99
    with pytest.raises(InputError) as err:
        list(ResultsFile.from_list(preds, "pred.json", names).instances())
    assert (
        str(err.value)
        == "pred.json: prediction 1 (image_id 99): image_id 99 is not in the images of names.json"
    )
    preds[1]["category_id"] = 5
    with pytest.raises(InputError, match="category_id 5 is not a listed category"):
        ResultsFile.from_list(preds, "pred.json", names)


def test_results_without_an_images_file_learn_the_images_from_their_rles() -> None:
    preds = [
        {"image_id": 5, "score": 0.9, "file_name": "a.png", "segmentation": encode_rle(_mask(0, 0, 2, 2))},
        {"image_id": 5, "score": 0.8, "file_name": "b.png", "segmentation": encode_rle(_mask(3, 3, 2, 2))},
    ]
    results = ResultsFile.from_list(preds, "pred.json")
    assert results.images == {} and results.image_records is None
    insts = list(results.instances())
    assert [i.instance_id for i in insts] == [0, 1] and [i.category_id for i in insts] == [-1, -1]
    info = results.images[5]
    assert (info.file_name, info.height, info.width) == (
        "a.png",
        H,
        W,
    )  # the first prediction names the image
    preds.append({"image_id": 6, "score": 0.5, "segmentation": [[0, 0, 4, 0, 4, 4]]})
    with pytest.raises(InputError, match=r"prediction 2 \(image_id 6\): a polygon needs the image size"):
        list(ResultsFile.from_list(preds, "pred.json").instances())


def test_repeated_predictions_are_warned_about_once(capsys: pytest.CaptureFixture[str]) -> None:
    rec = {"image_id": 5, "score": 0.9, "segmentation": encode_rle(_mask(0, 0, 2, 2))}
    ResultsFile.from_list([rec, dict(rec)], "pred.json")
    assert capsys.readouterr().err.startswith(
        "warning: pred.json: 1 prediction(s) repeat an earlier one exactly"
    )
    ResultsFile.from_list([rec, dict(rec)], "pred.json", warn_repeats=False)
    assert capsys.readouterr().err == ""


def test_read_instances_tells_the_kinds_apart_and_names_files_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    gt = _write(tmp_path / "gt.json", _coco())
    pred = _write(
        tmp_path / "pred.json", [{"image_id": 3, "score": 0.9, "segmentation": encode_rle(_mask(0, 0, 1, 1))}]
    )
    assert isinstance(read_instances(gt, "ignored.json"), CocoFile)
    assert isinstance(read_instances(pred, gt), ResultsFile)
    with pytest.raises(InputError) as err:
        read_instances(pred, images_required=True)
    assert str(err.value) == f"{pred}: a results list needs --images-json (COCO file with the images)"
    bad_names = _write(tmp_path / "names.json", {"images": [{"id": 1, "height": 0, "width": 4}]})
    with pytest.raises(InputError) as err:
        read_instances(pred, "./names.json")
    assert str(err.value).startswith("./names.json: images[0] (id=1): 'height' must be at least 1")
    assert bad_names.is_file()
    _write(tmp_path / "number.json", 3)
    with pytest.raises(InputError, match="number.json: neither a COCO instances object nor a results list"):
        read_instances(tmp_path / "number.json")


def test_group_by_image_and_subset_coco() -> None:
    assert group_by_image([2, 1], ["a1", "b2", "c1"], lambda s: int(s[1])) == {2: ["b2"], 1: ["a1", "c1"]}
    data = _coco()
    before = copy.deepcopy(data)
    sub = subset_coco(data, ["0003.png"])
    assert [im["id"] for im in sub["images"]] == [3] and [a["id"] for a in sub["annotations"]] == [10, 12]
    assert data == before


def test_json_files_a_tool_reads_whole_fail_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "params.json"
    bad.write_text("{nope")
    with pytest.raises(InputError) as err:
        read_json_file(bad, "parameters JSON")
    assert str(err.value).startswith(
        f"{bad}: cannot read parameters JSON (JSONDecodeError: Expecting property name"
    )
    with pytest.raises(InputError, match=r"cannot read JSON \(FileNotFoundError: "):
        read_json_file(tmp_path / "missing.json")


def test_names_stay_importable_where_they_were() -> None:
    from flocshape.baselines import watershed, watershed_params, watershed_segment
    from flocshape.score import inputs
    from flocshape.stats import distributions, quantiles, weights

    assert inputs.subset_coco is subset_coco
    assert watershed.WatershedParams is watershed_params.WatershedParams
    assert (
        watershed.frame_result is watershed_segment.frame_result
        and watershed.SCORES == watershed_params.SCORES
    )
    assert distributions.weighted_quantile is quantiles.weighted_quantile
    assert distributions.particle_weights is weights.particle_weights
    assert distributions._quantiles_of_sorted is quantiles._quantiles_of_sorted
