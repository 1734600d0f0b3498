"""``infer/predict.py``: predict every frame, write the hackathon submission, particle table and manifest.

Outputs in the run folder ``OUT``:

* ``submission.json``: JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score",
  "segmentation": {"size": [H, W], "counts": str}}`` (compressed RLE at the frame's resolution; ``bbox`` is the
  mask's bounding box in px; ``category_id`` = class index + 1);
* ``particles.parquet``: one row per instance, from ``flocshape.shape.measure.measure_instances`` (measured per
  frame while the frame is in memory; ``instance_id`` = index of the prediction within its frame, by score);
* ``journal.jsonl``: one flushed line per finished frame (predictions, particle rows and the sha256 of the frame's
  bytes); ``--resume`` skips the frames it lists as done from the same bytes (a changed frame is predicted again),
  and the final files are assembled from it;
* ``overlays/`` (``--save-overlays``): outlines drawn on each frame (JPEG);
* ``manifest.json``: arguments, inputs, versions, counts, failed frames, timings.

Frames that cannot be read are reported with a one-line warning, listed in the manifest, and make the exit code 3.

Video frames (:class:`flocshape.infer.video.VideoFrame`, conventions in :mod:`flocshape.infer.video`) go through the
same loop: read one at a time from the video, journalled with the video's sha256, ``frame_index`` and ``time_s``
(seconds); the particle table gets ``frame_index`` and ``time_s`` and the run folder ``images.json``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from flocshape.errors import input_error
from flocshape.fsio import atomic_write_bytes, atomic_write_json, is_image_file
from flocshape.infer.engine import FrameTimings, Instance, Segmenter
from flocshape.infer.protomask import rle_from_crop
from flocshape.infer.refine import DEFAULT_SMOOTH_PX, RefineSettings, refine_crops
from flocshape.infer.video import (
    VideoFrame,
    add_video_fields,
    close_streams,
    read_video_frame,
    video_inputs,
    write_images_json,
)
from flocshape.manifest import build_manifest, describe_input, file_digest, write_manifest
from flocshape.models import card_for_model, default_model_path, model_card_path, verify_shipped_model
from flocshape.score.postprocess import GRID_KEYS, MEASURE_KEY, filter_predictions
from flocshape.shape.measure import concat_tables, measure_instances

JOURNAL = "journal.jsonl"
RUN_CONFIG = "run_config.json"
EXIT_SOME_FRAMES_FAILED = 3
POSTPROC_KEYS = ("min_score", "min_area_px", "mask_nms_iou")
BUILTIN_IMGSZ = 1280
BUILTIN_CONF = 0.25
BUILTIN_OVERLAP = 0.2


@dataclass
class PredictOptions:
    """Everything that decides the predictions (kept in ``run_config.json``; ``--resume`` must match it)."""

    conf: float = BUILTIN_CONF
    iou: float = 0.7
    max_det: int = 1000
    imgsz: int = BUILTIN_IMGSZ
    tile_px: int | None = None
    overlap: float = BUILTIN_OVERLAP
    box_pad_px: int = 0
    um_per_px: float | None = None
    device: str = "cpu"
    # None: masks as the network gives them; else the edge level of flocshape.infer.refine
    refine_level: float | None = None
    refine_grow_px: int = 2
    # px: outlines this far inside the level's contour (RefineSettings.inset_px); used only with refine_level
    refine_inset_px: float = 0.0
    # px: Gaussian smoothing of the frame before thresholding (RefineSettings.smooth_sigma_px); only with refine_level
    refine_smooth_px: float = DEFAULT_SMOOTH_PX


@dataclass
class RunSummary:
    """Counts and timings of a predict run (timings in seconds, summed over the frames processed now)."""

    frames_total: int = 0
    frames_done_before: int = 0
    frames_ok: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    instances: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    particles_table: str = ""

    @property
    def exit_code(self) -> int:
        """0 when every frame was predicted, 3 when some frames failed."""
        return EXIT_SOME_FRAMES_FAILED if self.failed else 0


def find_sources(source: str) -> list[Path]:
    """Image files of a folder (non-recursive) or a glob pattern, sorted by name."""
    p = Path(source)
    if p.is_dir():
        files = [q for q in p.iterdir() if q.is_file() and is_image_file(q)]
    else:
        files = [Path(q) for q in glob.glob(source) if is_image_file(Path(q))]
    if not files:
        raise input_error(source, "no image files found (folder or glob of .jpg/.png/.bmp/.tif)")
    return sorted(files, key=lambda q: (q.name, str(q)))


def image_ids_from_json(path: Path) -> dict[str, int]:
    """``file name -> image id`` from a COCO file's ``images`` (e.g. the hackathon's ``label_test.json``)."""
    try:
        coco = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read COCO images JSON ({type(exc).__name__}: {exc})") from exc
    images = coco.get("images") if isinstance(coco, dict) else None
    if not isinstance(images, list):
        raise input_error(path, "no 'images' list")
    out: dict[str, int] = {}
    for k, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise input_error(path, "image entry without 'id' and 'file_name'", record=f"images[{k}]")
        out[Path(str(im["file_name"])).name] = int(im["id"])
    return out


def assign_image_ids(sources: list[Path], images_json: Path | None) -> dict[Path, int]:
    """Image id of every source: from ``images_json`` by file name, else the integer file stem; video frames
    (:class:`~flocshape.infer.video.VideoFrame`) are numbered 1, 2, ... in source order."""
    if sources and isinstance(sources[0], VideoFrame):
        return {src: k + 1 for k, src in enumerate(sources)}
    by_name = image_ids_from_json(images_json) if images_json else None
    ids: dict[Path, int] = {}
    for src in sources:
        if by_name is not None:
            if src.name not in by_name:
                raise input_error(images_json, "no image entry for this frame", record=src.name)
            ids[src] = by_name[src.name]
        else:
            try:
                ids[src] = int(src.stem)
            except ValueError:
                raise input_error(src, "file stem is not an integer image id (pass --images-json)") from None
    seen: dict[int, Path] = {}
    for src, image_id in ids.items():
        if image_id in seen:
            raise input_error(src, f"image id {image_id} also used by {seen[image_id].name}")
        seen[image_id] = src
    return ids


def load_postproc(path: Path) -> dict[str, Any]:
    """The ``--postproc`` JSON: ``min_score``, ``min_area_px`` (numbers), ``mask_nms_iou`` (number or null = off),
    optional ``nms_metric`` (``"iou"`` or ``"ios"``); passed to ``flocshape.score.postprocess.filter_predictions``.
    Optional ``measure_min_score`` (0-1): particles scored below it are kept but flagged ``low_score`` in the
    particle table (left out of statistics by default; ``flocshape.score.postprocess``)."""
    try:
        cfg = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read post-processing JSON ({type(exc).__name__}: {exc})") from exc
    return parse_postproc(cfg, path)


def parse_postproc(cfg: Any, where: object) -> dict[str, Any]:
    """Validate a post-processing dict (see :func:`load_postproc`); errors name ``where`` (file, record)."""
    if not isinstance(cfg, dict):
        raise input_error(where, "must be a JSON object")

    def is_number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    for key in POSTPROC_KEYS:
        if key not in cfg or not (is_number(cfg[key]) or (key == "mask_nms_iou" and cfg[key] is None)):
            raise input_error(where, "missing or not a number", record=key)
    if cfg.get("nms_metric", "iou") not in ("iou", "ios"):
        raise input_error(where, "must be 'iou' or 'ios'", record="nms_metric")
    out: dict[str, Any] = {key: (None if cfg[key] is None else float(cfg[key])) for key in POSTPROC_KEYS}
    if "nms_metric" in cfg:
        out["nms_metric"] = cfg["nms_metric"]
    if cfg.get(MEASURE_KEY) is not None:
        out[MEASURE_KEY] = measure_threshold(cfg[MEASURE_KEY], where, record=MEASURE_KEY)
    return out


def measure_threshold(value: Any, where: object, record: str | None = None) -> float:
    """A measurement threshold (``measure_min_score``) as a float in [0, 1]; one-line error naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise input_error(where, f"must be a number in [0, 1], got {value!r}", record=record)
    return float(value)


@dataclass
class ModelChoice:
    """The weights and the settings that depend on them, with where each setting came from.

    ``settings_from`` maps ``model``, ``imgsz``, ``conf``, ``postproc``, ``refine`` and ``tile`` to ``"option"``
    (given explicitly), ``"model card"`` (no ``--model``: the shipped weights and their card's ``predict_defaults``)
    or ``"built-in default"``. ``card`` is the shipped card when its settings were the defaults, else ``None``.
    """

    model: Path
    imgsz: int
    conf: float
    postproc: dict[str, Any] | None
    postproc_path: Path | None
    card: dict[str, Any] | None
    settings_from: dict[str, str]
    refine_level: float | None = None
    tile_px: int | None = None
    overlap: float = BUILTIN_OVERLAP
    refine_inset_px: float = 0.0
    refine_smooth_px: float = DEFAULT_SMOOTH_PX
    box_pad_px: int = 0


# the refinement's tuned parameters besides its level: ModelChoice / card field -> command-line option
REFINE_PARAMETERS = {"refine_inset_px": "--refine-inset", "refine_smooth_px": "--refine-smooth"}


def resolve_model_settings(
    model: Path | None = None,
    imgsz: int | None = None,
    conf: float | None = None,
    postproc_path: Path | None = None,
    no_postproc: bool = False,
    refine_level: float | None = None,
    no_refine: bool = False,
    tile_px: int | None = None,
    overlap: float | None = None,
    no_tile: bool = False,
    refine_inset_px: float | None = None,
    refine_smooth_px: float | None = None,
    box_pad_px: int | None = None,
) -> ModelChoice:
    """Fill in what was not given (``None`` = not given).

    Without ``model`` the shipped checkpoint is used (its sha256 checked against the card) together with the
    card's ``imgsz`` (px), ``conf`` and tuned post-processing. With an explicit ``model`` the built-in defaults
    apply (1280 px, 0.25, no post-processing), even for a copy of the shipped weights: scripts that tune
    post-processing on raw predictions (benchmarks/metrology_e2e.py, train/sweep.py) pass ``--model`` and must
    not get the card's filtering silently. An explicit option always wins; ``no_postproc`` turns the card's
    post-processing off. The same holds for mask refinement (``refine_level``, the card's ``refine_level``,
    ``refine_inset_px`` and ``refine_smooth_px``; ``no_refine`` turns it off; an explicit ``refine_level`` comes
    with the given ``refine_inset_px`` / ``refine_smooth_px`` or their defaults, 0 px / ``DEFAULT_SMOOTH_PX``, never
    with the card's; either one alone changes that parameter of the card's refinement), and
    for tiled prediction (``tile_px`` in px and ``overlap``, a fraction; the card's ``tile_px`` / ``overlap`` for a
    model trained on native-resolution tiles; ``no_tile`` = whole frames) and for ``box_pad_px`` (px the mask window
    is widened beyond the predicted box; the card's, else 0). ``card`` is set only when the card's settings were
    the defaults.
    """
    if postproc_path is not None and no_postproc:
        raise input_error("--postproc", "cannot be combined with --no-postproc")
    if refine_level is not None and no_refine:
        raise input_error("--refine", "cannot be combined with --no-refine")
    params = {"refine_inset_px": refine_inset_px, "refine_smooth_px": refine_smooth_px}
    for key, flag in REFINE_PARAMETERS.items():
        if params[key] is not None and no_refine:
            raise input_error(flag, "cannot be combined with --no-refine")
    if tile_px is not None and no_tile:
        raise input_error("--tile", "cannot be combined with --no-tile")
    card = None
    if model is None:
        card = verify_shipped_model()
        model = default_model_path()
    defaults = card["predict_defaults"] if card else {}
    source = "model card" if card else "built-in default"
    settings_from = {"model": "model card" if card else "option"}
    settings_from["imgsz"] = "option" if imgsz is not None else source
    settings_from["conf"] = "option" if conf is not None else source
    if postproc_path is not None:
        postproc, settings_from["postproc"] = load_postproc(postproc_path), "option"
    elif no_postproc or not card:
        postproc, settings_from["postproc"] = None, ("option" if no_postproc else "built-in default")
    else:
        postproc = parse_postproc(defaults["postproc"], f"{model_card_path()}: predict_defaults")
        settings_from["postproc"] = "model card"
    if refine_level is not None or no_refine:
        settings_from["refine"] = "option"
    else:
        refine_level = defaults.get("refine_level")
        given = any(v is not None for v in params.values())
        settings_from["refine"] = "option" if given else source
        params = {k: defaults.get(k) if v is None else v for k, v in params.items()}
    for key, flag in REFINE_PARAMETERS.items():
        if params[key] is not None and refine_level is None and not no_refine:
            raise input_error(flag, "needs a refinement level (--refine LEVEL; this model has none)")
    inset, smooth = params["refine_inset_px"], params["refine_smooth_px"]
    if tile_px is not None or no_tile:
        settings_from["tile"] = "option"
    else:
        tile_px = defaults.get("tile_px")
        settings_from["tile"] = source
    if overlap is None:
        overlap = float(defaults.get("overlap", BUILTIN_OVERLAP))
    settings_from["box_pad"] = "option" if box_pad_px is not None else source
    if box_pad_px is None:
        box_pad_px = int(defaults.get("box_pad_px", 0))
    return ModelChoice(
        model=Path(model),
        imgsz=int(imgsz if imgsz is not None else defaults.get("imgsz", BUILTIN_IMGSZ)),
        conf=float(conf if conf is not None else defaults.get("conf", BUILTIN_CONF)),
        postproc=postproc,
        postproc_path=postproc_path,
        card=card,
        settings_from=settings_from,
        refine_level=None if no_refine else refine_level,
        tile_px=None if tile_px is None else int(tile_px),
        overlap=float(overlap),
        refine_inset_px=0.0 if no_refine or inset is None else float(inset),
        refine_smooth_px=DEFAULT_SMOOTH_PX if no_refine or smooth is None else float(smooth),
        box_pad_px=int(box_pad_px),
    )


def read_frame(path: Path) -> np.ndarray | None:
    """The frame as ``H x W x 3`` uint8 BGR, or ``None`` when it cannot be decoded (a video frame: decoded from
    the video's open capture)."""
    return read_frame_and_digest(path)[0]


def read_frame_and_digest(path: Path) -> tuple[np.ndarray | None, str | None]:
    """:func:`read_frame` and :func:`frame_digest` of the same bytes, read once (``None`` where they fail)."""
    if isinstance(path, VideoFrame):
        return read_video_frame(path), path.video.sha256
    try:
        data = np.fromfile(path, dtype=np.uint8) if path.is_file() else None
    except OSError:
        data = None
    if data is None:
        return None, None
    digest = hashlib.sha256(data.tobytes()).hexdigest()
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return (image if image is not None and image.size else None), digest


def frame_digest(path: Path) -> str | None:
    """sha256 of a frame file's bytes (``None`` when it cannot be read), recorded in the journal; for a video
    frame the sha256 of the video file, hashed once when the video was probed."""
    if isinstance(path, VideoFrame):
        return path.video.sha256
    try:
        return file_digest(path)
    except OSError:
        return None


def frame_done(record: dict[str, Any] | None, src: Path) -> bool:
    """Is ``src`` finished according to its journal ``record``: predicted (status ok) from the same bytes
    (sha256)? A record without a hash (an older journal) or of changed bytes is predicted again."""
    return bool(record) and record.get("status") == "ok" and record.get("sha256") == frame_digest(src)


def instance_to_prediction(inst: Instance, image_id: int) -> dict[str, Any]:
    """One submission record (contract 2); ``bbox`` is the mask's bounding box ``[x, y, w, h]`` in px."""
    rle = rle_from_crop(inst.crop)
    h, w = inst.crop.mask.shape
    return {
        "image_id": int(image_id),
        "category_id": inst.class_index + 1,
        "bbox": [float(inst.crop.x0), float(inst.crop.y0), float(w), float(h)],
        "score": round(float(inst.score), 5),
        "segmentation": rle,
    }


def draw_overlay(image_bgr: np.ndarray, instances: list[Instance]) -> np.ndarray:
    """The frame with each instance's outline (green, 1 px; 2 px for frames over 1000 px) drawn on it."""
    out = image_bgr.copy()
    thickness = 2 if max(out.shape[:2]) > 1000 else 1
    for inst in instances:
        contours, _ = cv2.findContours(
            inst.crop.mask.astype(np.uint8),
            cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE,
            offset=(inst.crop.x0, inst.crop.y0),
        )
        cv2.drawContours(out, contours, -1, (0, 255, 0), thickness)
    return out


def _measure(
    predictions: list[dict[str, Any]],
    image_bgr: np.ndarray,
    image_id: int,
    file_name: str,
    um_per_px: float | None,
    source: str,
) -> list[dict[str, Any]]:
    """Particle rows of one frame via :func:`flocshape.shape.measure.measure_instances` (JSON-ready dicts)."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    table = measure_instances(
        [p["segmentation"] for p in predictions],
        grey,
        image_id=image_id,
        file_name=file_name,
        instance_ids=list(range(len(predictions))),
        scores=[p["score"] for p in predictions],
        um_per_px=um_per_px,
        source=source,
    )
    return json.loads(table.to_json(orient="records", double_precision=15)) if len(table) else []


def flag_low_score(rows: list[dict[str, Any]], measure_min_score: float | None) -> None:
    """Set ``low_score`` on particle rows in place: ``score < measure_min_score`` (all False without one)."""
    for row in rows:
        row["low_score"] = measure_min_score is not None and float(row["score"]) < measure_min_score


def _refine(image_bgr: np.ndarray, instances: list[Instance], settings: RefineSettings) -> list[Instance]:
    """The instances with their masks refined against the frame (:mod:`flocshape.infer.refine`)."""
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    crops = refine_crops(grey, [inst.crop for inst in instances], settings)
    return [replace(inst, crop=crop) for inst, crop in zip(instances, crops, strict=True)]


def _apply_postproc(
    predictions: list[dict[str, Any]], postproc: dict[str, Any] | None
) -> list[dict[str, Any]]:
    if not postproc:
        return predictions
    return list(filter_predictions(predictions, **{k: v for k, v in postproc.items() if k in GRID_KEYS}))


class Journal:
    """Append-only JSON-lines record of finished frames; each line is flushed and fsync'ed.

    A line torn by a kill is cut off when the journal is reopened. The last line of a file name wins.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        good_bytes = 0
        if path.exists():
            with open(path, "rb") as fh:
                for raw in fh:
                    try:
                        rec = json.loads(raw)
                    except json.JSONDecodeError:
                        break
                    if not raw.endswith(b"\n"):
                        break
                    self.records[rec["file_name"]] = rec
                    good_bytes += len(raw)
            if good_bytes < path.stat().st_size:
                os.truncate(path, good_bytes)
        self._fh = open(path, "ab")  # noqa: SIM115 - kept open for the run, closed in close()

    def append(self, record: dict[str, Any]) -> None:
        """Write one frame's record durably."""
        self._fh.write(json.dumps(record, allow_nan=True).encode("utf-8") + b"\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.records[record["file_name"]] = record

    def close(self) -> None:
        """Close the file."""
        self._fh.close()


def _prepare_out_dir(out: Path, settings: dict[str, Any], resume: bool) -> None:
    """Create ``out`` with its ``run_config.json``; with ``resume`` the existing config must match."""
    config_path = out / RUN_CONFIG
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise input_error(out, "output folder exists and is not empty (pass --resume to continue it)")
        if not config_path.is_file():
            raise input_error(out, f"cannot resume: no {RUN_CONFIG} (not a predict run folder)")
        # a setting added after the run was made is compared as its default (what that run did)
        previous = {**asdict(PredictOptions()), **json.loads(config_path.read_text())}
        changed = sorted(k for k in set(previous) | set(settings) if previous.get(k) != settings.get(k))
        if changed:
            raise input_error(config_path, f"cannot resume with different settings: {', '.join(changed)}")
        return
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(config_path, settings)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def predict_frame(
    segmenter: Segmenter, image_bgr: np.ndarray, options: PredictOptions, timings: FrameTimings
) -> list[Instance]:
    """Instances of one frame, whole-frame or tiled."""
    if options.tile_px:
        from flocshape.infer.tiling import tiled_instances

        return tiled_instances(segmenter, image_bgr, options.tile_px, options.overlap, timings=timings)
    return segmenter.instances(image_bgr, timings)


def _process_frame(
    src: Path,
    image_id: int,
    segmenter: Segmenter,
    options: PredictOptions,
    postproc: dict[str, Any] | None,
    overlays_dir: Path | None,
    source_label: str,
    refine: RefineSettings | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Predict, encode, post-process, (optionally) refine, measure and draw one frame; returns its journal record."""
    t0 = time.perf_counter()
    image, digest = read_frame_and_digest(
        src
    )  # the hash of the bytes decoded: a later change is seen on --resume
    t_read = time.perf_counter() - t0
    if image is None:
        failed = {"file_name": src.name, "image_id": image_id, "status": "failed", "error": "cannot decode image",
                  "sha256": digest}  # fmt: skip
        return add_video_fields(failed, [], src), {}
    timings = FrameTimings()
    instances = predict_frame(segmenter, image, options, timings)
    t1 = time.perf_counter()
    predictions = [instance_to_prediction(inst, image_id) for inst in instances]
    for k, pred in enumerate(predictions):
        pred["_k"] = k
    predictions = _apply_postproc(predictions, postproc)
    kept = [instances[p["_k"]] for p in predictions if "_k" in p]
    for pred in predictions:
        pred.pop("_k", None)
    t_refine = time.perf_counter()
    if refine is not None:
        kept = _refine(image, kept, refine)
        predictions = [instance_to_prediction(inst, image_id) for inst in kept]
    t2 = time.perf_counter()
    particles = _measure(predictions, image, image_id, src.name, options.um_per_px, source_label)
    flag_low_score(particles, (postproc or {}).get(MEASURE_KEY))
    t3 = time.perf_counter()
    if overlays_dir is not None:
        ok, buf = cv2.imencode(".jpg", draw_overlay(image, kept), [cv2.IMWRITE_JPEG_QUALITY, 90])
        if ok:
            atomic_write_bytes(overlays_dir / f"{src.stem}.jpg", buf.tobytes())
    t4 = time.perf_counter()
    frame_timings = {
        "read_s": t_read,
        "network_s": timings.network_s,
        "masks_s": timings.masks_s,
        "encode_s": t_refine - t1,
        "refine_s": t2 - t_refine,
        "measure_s": t3 - t2,
        "overlay_s": t4 - t3,
    }
    record = {"file_name": src.name, "image_id": image_id, "status": "ok", "sha256": digest}
    record["predictions"] = predictions
    record["particles"] = particles
    return add_video_fields(record, particles, src), frame_timings


def _assemble(
    out: Path, journal: Journal, sources: list[Path], um_per_px: float | None = None
) -> tuple[int, str]:
    """Write ``submission.json`` and ``particles.parquet`` from the journal, in source order (atomic writes).

    No particle at all gives the empty table with every column (the particle-table schema, ``low_score``)."""
    predictions: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for src in sources:
        rec = journal.records.get(src.name)
        if not rec or rec.get("status") != "ok":
            continue
        predictions.extend(rec["predictions"])
        rows.extend(rec["particles"])
    atomic_write_json(out / "submission.json", predictions, indent=None)
    table = (
        pd.DataFrame(rows) if rows else concat_tables([], um_per_px).assign(low_score=pd.Series(dtype=bool))
    )
    if sources and isinstance(sources[0], VideoFrame):
        table = table.astype({"frame_index": "int64", "time_s": "float64"}) if rows else table.assign(
            frame_index=pd.Series(dtype="int64"), time_s=pd.Series(dtype="float64"))  # fmt: skip
        write_images_json(out, sources)
    tmp = out / ".particles.parquet.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "particles.parquet")
    return len(predictions), str(out / "particles.parquet")


def run_predict(
    model: Path,
    sources: list[Path],
    out: Path,
    options: PredictOptions,
    images_json: Path | None = None,
    postproc_path: Path | None = None,
    save_overlays: bool = False,
    resume: bool = False,
    cli_args: dict[str, Any] | None = None,
    postproc: dict[str, Any] | None = None,
    settings_from: dict[str, str] | None = None,
    measure_min_score: float | None = None,
    sampling: dict[str, Any] | None = None,
) -> RunSummary:
    """Predict all ``sources`` into ``out`` (see the module docstring). Bad input raises before anything is written.

    Post-processing: ``postproc_path`` (a JSON file) if given, else the ``postproc`` dict (e.g. a model card's),
    else none. ``measure_min_score`` (0-1), when given, replaces the post-processing's measurement threshold (the
    ``low_score`` flag; 0 flags nothing). ``settings_from`` (see :class:`ModelChoice`) is recorded in the
    manifest's ``model`` block. ``sources`` may be video frames (:mod:`flocshape.infer.video`); ``sampling``
    (``{"every": N}`` or ``{"fps": F}``) is then part of the settings ``--resume`` must match.
    """
    out = Path(out).absolute()
    image_ids = assign_image_ids(sources, images_json)
    if postproc_path:
        postproc = load_postproc(postproc_path)
    elif postproc is not None:
        postproc = parse_postproc(postproc, "postproc")
    if measure_min_score is not None:
        postproc = {
            **(postproc or {}),
            MEASURE_KEY: measure_threshold(measure_min_score, "--measure-min-score"),
        }
    if options.tile_px is not None and options.tile_px < 32:
        raise input_error("--tile", f"tile size {options.tile_px} px is too small (>= 32)")
    if not 0.0 <= options.overlap < 1.0:
        raise input_error("--overlap", f"overlap {options.overlap} must be in [0, 1)")
    if options.refine_grow_px < 0:
        raise input_error("--refine-grow-px", f"must be >= 0, got {options.refine_grow_px}")
    refine = None
    if options.refine_level is not None:
        try:
            refine = RefineSettings(
                level=options.refine_level,
                grow_px=options.refine_grow_px,
                inset_px=options.refine_inset_px,
                smooth_sigma_px=options.refine_smooth_px,
            )
        except ValueError as exc:
            raise input_error("--refine/--refine-inset/--refine-smooth", str(exc)) from None
    segmenter = Segmenter(model, options.imgsz, options.conf, options.iou, options.max_det, options.device,
                          options.box_pad_px)  # fmt: skip
    model_sha256 = file_digest(model)
    settings = {"model_sha256": model_sha256, **asdict(options), "postproc": postproc}
    if sampling is not None:
        settings["sampling"] = sampling
    _prepare_out_dir(out, settings, resume)
    journal = Journal(out / JOURNAL)
    overlays_dir = out / "overlays" if save_overlays else None
    summary = RunSummary(frames_total=len(sources))
    pending = [s for s in sources if not frame_done(journal.records.get(s.name), s)]
    changed = [s for s in pending if journal.records.get(s.name, {}).get("status") == "ok"]
    if changed:
        _warn(
            f"{len(changed)} frame(s) changed since they were predicted (first: {changed[0]}); predicted again"
        )
    summary.frames_done_before = len(sources) - len(pending)
    totals: dict[str, float] = {}
    try:
        from tqdm import tqdm

        for src in tqdm(pending, desc="predict", unit="frame", disable=None):
            record, frame_timings = _process_frame(
                src,
                image_ids[src],
                segmenter,
                options,
                postproc,
                overlays_dir,
                str(out / "submission.json"),
                refine,
            )
            if record["status"] != "ok":
                _warn(f"{src}: {record['error']}; skipped")
            journal.append({**record, "timings_s": frame_timings})
            for key, value in frame_timings.items():
                totals[key] = totals.get(key, 0.0) + value
    finally:
        journal.close()
        close_streams()
    summary.failed = [
        {"file": str(s), "error": str(journal.records[s.name].get("error"))}
        for s in sources
        if journal.records.get(s.name, {}).get("status") == "failed"
    ]
    summary.frames_ok = sum(1 for s in sources if journal.records.get(s.name, {}).get("status") == "ok")
    summary.instances, summary.particles_table = _assemble(out, journal, sources, options.um_per_px)
    summary.timings_s = {k: round(v, 4) for k, v in totals.items()}
    inputs = {"model": describe_input(model), "sources": {"count": len(sources), "first": str(sources[0])}}
    for key, path in (("images_json", images_json), ("postproc", postproc_path)):
        if path is not None:
            inputs[key] = describe_input(path)
    inputs.update(video_inputs(sources, sampling))
    manifest = build_manifest(
        "infer/predict.py",
        cli_args or {},
        inputs=inputs,
        settings=settings,
        model=_model_block(model, model_sha256, settings_from),
        frames={
            "total": summary.frames_total,
            "ok": summary.frames_ok,
            "done_before_resume": summary.frames_done_before,
        },
        failed_frames=summary.failed,
        instances=summary.instances,
        particles_table=summary.particles_table,
        timings_s=summary.timings_s,
        outputs=["submission.json", "particles.parquet", JOURNAL, RUN_CONFIG]
        + (["images.json"] if sampling is not None else [])
        + (["overlays/"] if save_overlays else []),
    )
    write_manifest(out, manifest)
    return summary


def _model_block(model: Path, sha256: str, settings_from: dict[str, str] | None) -> dict[str, Any]:
    """Manifest entry: which weights (path, sha256), whether they are the shipped model (card name), and where
    each model-dependent setting came from."""
    card = card_for_model(model)
    return {
        "path": str(Path(model).absolute()),
        "sha256": sha256,
        "shipped": card is not None,
        "card": card["name"] if card else None,
        "card_file": str(model_card_path()) if card else None,
        "settings_from": settings_from or {},
    }


def per_frame_ms(summary: RunSummary, frames: int) -> dict[str, float]:
    """Mean milliseconds per frame of each timing bucket (for reports)."""
    if frames <= 0:
        return {}
    return {k: round(1000.0 * v / frames, 1) for k, v in summary.timings_s.items() if math.isfinite(v)}
