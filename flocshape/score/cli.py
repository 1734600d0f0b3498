"""Command-line logic of ``infer/score.py`` and ``infer/tune.py`` (the scripts only call these ``main``s)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flocshape.cliargs import Parser, integer, real
from flocshape.errors import input_error
from flocshape.fsio import atomic_write_json, atomic_write_text
from flocshape.manifest import build_manifest, describe_input
from flocshape.outputs import claim_file, manifest_beside
from flocshape.records import warn_repeated_predictions
from flocshape.score import score_all
from flocshape.score.inputs import Prepared, load_json, prepare, require_overlap
from flocshape.score.postprocess import (
    CRITERION,
    DEFAULT_GRID,
    MEASURE_CRITERION,
    MEASURE_KEY,
    best_params,
    expand_grid,
    measure_row,
    sweep,
)


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_table(result: dict[str, Any]) -> str:
    """A plain-text table of the headline numbers of :func:`flocshape.score.score_all`."""
    h, s, c = result["hackathon_f1"], result["strict"], result["coco"]
    rows = [
        ("hackathon F1 with IoU", h["f1"], f"P={_fmt(h['precision'])} R={_fmt(h['recall'])}"),
        ("  SumIoU / TP / FP / FN", h["sum_iou"], f"{h['tp']} / {h['fp']} / {h['fn']}  (th={h['th']})"),
        ("strict F1 @ IoU>=0.5", s["f1"], f"P={_fmt(s['precision'])} R={_fmt(s['recall'])}"),
        ("  TP / FP / FN", None, f"{s['tp']} / {s['fp']} / {s['fn']}"),
        ("  mean matched IoU", s["mean_iou"], ""),
        (
            "strict F1 @ IoU 0.50:0.95",
            s["f1_50_95"],
            f"P={_fmt(s['precision_50_95'])} R={_fmt(s['recall_50_95'])}",
        ),
        (
            f"COCO mask AP (maxDets={c['max_dets']})",
            c["AP"],
            f"AP50={_fmt(c['AP50'])} AP75={_fmt(c['AP75'])}",
        ),
        ("  APs / APm / APl", None, f"{_fmt(c['APs'])} / {_fmt(c['APm'])} / {_fmt(c['APl'])}"),
    ]
    n = result["counts"]
    lines = [f"{'metric':<34} {'value':>8}  details", "-" * 78]
    lines += [f"{name:<34} {'' if v is None else _fmt(v):>8}  {d}" for name, v, d in rows]
    lines.append(
        f"images {n['images']}, GT instances {n['gt_instances']}, predictions {n['predictions']}"
        f" (+{n['predictions_ignored']} on images not in the GT, ignored)"
    )
    return "\n".join(lines)


_threshold = real(0.0, 1.0, hi_open=True)


def _load_pair(gt: Path, pred: Path) -> Prepared:
    """Ground truth and predictions validated together; predictions on other images are warned about."""
    prepared = prepare(load_json(gt), load_json(pred), gt_source=gt, pred_source=pred)
    require_overlap(prepared, pred)
    warn_repeated_predictions(prepared.preds, pred)
    if prepared.n_pred_ignored:
        print(f"warning: {pred}: {prepared.n_pred_ignored} of {len(prepared.preds)} predictions are on images "
              "not in the ground truth; ignored (the hackathon rule)", file=sys.stderr)  # fmt: skip
    return prepared


def score_main(argv: Sequence[str] | None = None) -> int:
    """``infer/score.py``: print the metric table; ``--json OUT`` also writes the numbers and a manifest."""
    ap = Parser(prog="infer/score.py", description="Score COCO mask predictions against GT.")
    ap.add_argument("--gt", required=True, type=Path, help="COCO instances JSON (ground truth)")
    ap.add_argument("--pred", required=True, type=Path, help="COCO results / hackathon submission JSON list")
    ap.add_argument(
        "--th", type=_threshold, default=0.1, help="hackathon duplicate IoU threshold (default 0.1)"
    )
    ap.add_argument(
        "--max-dets", type=integer(1), default=1000, help="COCOeval detections per image (default 1000)"
    )
    ap.add_argument("--json", type=Path, help="write all numbers (and a 'manifest' key) to this JSON file")
    ap.add_argument("--overwrite", action="store_true", help="replace a --json file another tool wrote")
    args = ap.parse_args(argv)
    if args.json:
        claim_file(args.json, "infer/score.py", [args.gt, args.pred], args.overwrite, "--json")
    prepared = _load_pair(args.gt, args.pred)
    result = score_all(prepared, th=args.th, max_dets=args.max_dets)
    print(format_table(result))
    if args.json:
        inputs = {"gt": describe_input(args.gt), "pred": describe_input(args.pred)}
        manifest = build_manifest("infer/score.py", vars(args), inputs)
        atomic_write_json(args.json, {**result, "manifest": manifest})  # a single file: provenance inside
    return 0


def _grid_arg(text: str | None) -> dict[str, Any]:
    if text is None:
        return DEFAULT_GRID
    source: object = "--grid"
    if Path(text).is_file():
        source, grid = text, load_json(text)
    else:
        try:
            grid = json.loads(text)
        except json.JSONDecodeError as exc:
            raise input_error("--grid", f"neither a file nor JSON ({exc.msg})") from None
    if not isinstance(grid, dict) or not all(isinstance(v, list) for v in grid.values()):
        raise input_error(source, 'grid must be a JSON object of lists, e.g. {"min_score": [0.1, 0.3]}')
    return grid


def tune_main(argv: Sequence[str] | None = None) -> int:
    """``infer/tune.py``: sweep post-processing settings on a validation split and write the best ones."""
    ap = Parser(prog="infer/tune.py", description="Tune post-processing for the hackathon F1.")
    ap.add_argument(
        "--gt", required=True, type=Path, help="validation COCO instances JSON (never the test split)"
    )
    ap.add_argument("--pred", required=True, type=Path, help="validation predictions (raw, low conf)")
    ap.add_argument("--out", required=True, type=Path, help="postproc.json to write (CSV table beside it)")
    ap.add_argument(
        "--grid", help="JSON object or file: lists for min_score, min_area_px, mask_nms_iou, nms_metric"
    )
    ap.add_argument(
        "--th", type=_threshold, default=0.1, help="hackathon duplicate IoU threshold (default 0.1)"
    )
    ap.add_argument("--overwrite", action="store_true", help="replace files another tool wrote")
    args = ap.parse_args(argv)
    tool = "infer/tune.py"
    csv_path = args.out.with_suffix(".csv")
    if args.out.suffix.lower() != ".json":
        raise input_error(args.out, "the output name must end in .json", "--out")
    manifest_path = manifest_beside(args.out, tool)
    grid_file = args.grid if args.grid and Path(args.grid).is_file() else None
    claim_file(
        args.out, tool, [args.gt, args.pred, grid_file], args.overwrite, companions=[csv_path, manifest_path]
    )
    grid = _grid_arg(args.grid)
    try:
        expand_grid(grid)
    except (ValueError, TypeError) as exc:
        raise input_error(grid_file or "--grid", str(exc)) from None
    prepared = _load_pair(args.gt, args.pred)
    if not prepared.n_pred:
        raise input_error(args.pred, "no predictions on the ground-truth images: nothing to tune")
    if not prepared.n_gt:
        raise input_error(args.gt, "no ground-truth instances: nothing to tune against")
    try:
        table = sweep(prepared, grid=grid, th=args.th)
    except ValueError as exc:
        raise input_error(grid_file or "--grid", str(exc)) from None
    if not (table["hackathon_f1"] > 0).any():
        raise input_error(
            args.pred, "every setting of the grid scores hackathon F1 0: nothing to choose (wrong files?)"
        )
    chosen = best_params(table)
    measured = table.loc[measure_row(table)]
    chosen[MEASURE_KEY] = float(measured["min_score"])
    best = table.loc[table["best"]].iloc[0]
    out = {
        **chosen,
        "criterion": CRITERION,
        "measure_criterion": MEASURE_CRITERION,
        "measure_strict_f1": float(measured["strict_f1"]),
        "th": args.th,
        "hackathon_f1": float(best["hackathon_f1"]),
        "strict_f1": float(best["strict_f1"]),
        "baseline_hackathon_f1": float(table["hackathon_f1"].iat[0]),
        "grid": grid,
        "table_csv": csv_path.name,
        "table": json.loads(table.to_json(orient="records")),
    }
    inputs = {"gt": describe_input(args.gt), "pred": describe_input(args.pred)}
    manifest = build_manifest("infer/tune.py", vars(args), inputs, outputs=[args.out.name, csv_path.name])
    atomic_write_text(csv_path, table.to_csv(index=False))
    atomic_write_json(args.out, {**out, "manifest": manifest})
    atomic_write_json(manifest_path, manifest)
    print(table.sort_values(["hackathon_f1", "strict_f1"], ascending=False).head(10).to_string(index=False))
    print(f"chosen ({CRITERION}): {json.dumps(chosen)}  hackathon F1 {out['hackathon_f1']:.4f}")
    print(
        f"measurement threshold: score >= {chosen[MEASURE_KEY]:g} (strict F1 {out['measure_strict_f1']:.4f})"
    )
    print(f"wrote {args.out}, {csv_path}, {manifest_path}")
    return 0
