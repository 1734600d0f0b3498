"""Does a change of boundary shape show up in the predictions, with the right sign? (roughness batches)

Generates batches that differ only in the generator's ``--roughness`` (and one pair where roughness and
elongation change together), predicts each with ``infer/predict.py`` and compares, per pair of batches, the
shift of the median form factor, circularity, solidity and convexity (and size) measured on

* ``gt``: the label masks (``infer/shape.py`` on the generated COCO file): the shift to follow;
* ``pred``: the predicted masks, counted as ``infer/compare.py`` counts them (no ``low_score``, not too small);
* ``image``: the label masks moved to the frame's own edges by the run's mask refinement
  (:mod:`flocshape.infer.refine`, same level, inset, smoothing and growth): what an outline that follows the
  image can show at best, with perfect detection and instance identity. Where ``image`` misses the ``gt`` shift,
  the frames do not carry the difference at the refinement's scale.

Shifts are ``median(B) / median(A) - 1`` with a 95 % bootstrap CI that resamples video blocks of 10 frames (the
frames of a block show the same particles). A pair passes for a descriptor when the ``pred`` shift has the sign
of the ``gt`` shift and is within 25 % of it. The straight-run share of the outlines
(:mod:`flocshape.shape.straight`) is printed for label masks and predictions, and, with ``--real DIR``, for the
real frames in DIR, whose overlays are saved (``WORK/NAME/real/overlays``) with the label-free table of
``benchmarks/real_frames.py``.

Usage (``--`` passes the rest to ``infer/predict.py``; batches are generated once in ``WORK/batches``)::

    python benchmarks/boundary_shape.py --work runs/boundary --name card
    python benchmarks/boundary_shape.py --work runs/boundary --name smooth0 -- --refine-smooth 0 --box-pad 2
    python benchmarks/boundary_shape.py --work runs/boundary --name card --real ../shared/data/hackathon-frame
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.errors import input_error, run_cli
from flocshape.infer.refine import RefineSettings, refine_crops
from flocshape.shape.calibrate import apply_calibration, load_calibration
from flocshape.shape.sources import measure_coco
from flocshape.stats.compare import CompareOptions, counted_rows

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrology_e2e import markdown, run, split_passthrough  # noqa: E402
from real_frames import label_free_table, straight_of_submission  # noqa: E402

SHAPE = ["form_factor", "circularity", "solidity", "convexity"]
SIZE = ["ecd_px", "feret_max_px"]
BLOCK = 10  # frames per generated video block


def batch_name(roughness: float, elongation: float | None) -> str:
    """Folder name of a generated batch."""
    return f"r{roughness:g}" + ("" if elongation is None else f"_e{elongation:g}")


def generate(work: Path, roughness: float, elongation: float | None, seed: int, frames: int) -> Path:
    """``datasets/synthesize.py`` batch (hackathon preset, ``frames`` test frames + one train block); reused."""
    out = work / "batches" / batch_name(roughness, elongation)
    if not (out / "manifest.json").is_file():
        blocks = frames // BLOCK
        args = ["datasets/synthesize.py", "--out", out, "--preset", "hackathon", "--seed", seed]
        args += ["--frames", (blocks + 1) * BLOCK, "--test-frac", f"{blocks / (blocks + 1):.6f}"]
        args += ["--roughness", roughness] + ([] if elongation is None else ["--elongation", elongation])
        run(*args)
    return out


def block_of(file_names: pd.Series) -> np.ndarray:
    """Video block of each frame: ``(number - 1) // BLOCK`` for the generator's numbered frames (``0011.jpg``),
    else by rank of the sorted names, ``BLOCK`` per block."""
    names = sorted(set(file_names))
    stems = [Path(n).stem for n in names]
    if all(s.isdigit() for s in stems):
        index = {n: (int(s) - 1) // BLOCK for n, s in zip(names, stems, strict=True)}
    else:
        index = {n: i // BLOCK for i, n in enumerate(names)}
    return file_names.map(index).to_numpy(int)


def counted(table: pd.DataFrame, size: bool) -> pd.DataFrame:
    """Rows that count, as ``infer/compare.py`` counts them by default."""
    return table[counted_rows(table, for_size=size, options=CompareOptions())]


def shift_ci(a: pd.DataFrame, b: pd.DataFrame, col: str, rng: np.random.Generator, n_boot: int) -> tuple:
    """Relative shift of the median of ``col`` from ``a`` to ``b`` (%) and its block-bootstrap 95 % CI."""
    va, vb = (t[col].to_numpy(float) for t in (a, b))
    ba, bb = block_of(a["file_name"]), block_of(b["file_name"])
    shift = 100.0 * (np.nanmedian(vb) / np.nanmedian(va) - 1.0)
    groups_a = [va[ba == k] for k in np.unique(ba)]
    groups_b = [vb[bb == k] for k in np.unique(bb)]
    boots = []
    for _ in range(n_boot):
        sa = np.concatenate([groups_a[i] for i in rng.integers(0, len(groups_a), len(groups_a))])
        sb = np.concatenate([groups_b[i] for i in rng.integers(0, len(groups_b), len(groups_b))])
        boots.append(100.0 * (np.nanmedian(sb) / np.nanmedian(sa) - 1.0))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(shift), float(lo), float(hi)


def refine_settings(pred_dir: Path) -> RefineSettings | None:
    """The refinement a predict run used (its manifest's resolved settings), or None when it refined nothing."""
    settings = json.loads((pred_dir / "manifest.json").read_text())["settings"]
    if settings.get("refine_level") is None:
        return None
    return RefineSettings(
        level=settings["refine_level"],
        grow_px=settings.get("refine_grow_px", 2),
        inset_px=settings.get("refine_inset_px", 0.0),
        smooth_sigma_px=settings.get("refine_smooth_px", 1.0),
    )


def image_limited(batch: Path, settings: RefineSettings | None) -> pd.DataFrame:
    """Particle table of the label masks refined against their frames with ``settings`` (see the module doc)."""
    import cv2

    from flocshape.infer.protomask import CropMask, rle_from_crop
    from flocshape.masks import decode_rle_crop, to_compressed_rle
    from flocshape.shape.measure import measure_instances

    gt = json.loads((batch / "truth" / "label_test_gt.json").read_text())
    per_image: dict[int, list] = {}
    for ann in gt["annotations"]:
        per_image.setdefault(ann["image_id"], []).append(ann)
    tables = []
    for image in gt["images"]:
        h, w = image["height"], image["width"]
        frame = cv2.imread(str(batch / "test" / image["file_name"]))
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        crops = []
        for ann in per_image.get(image["id"], []):
            mc = decode_rle_crop(to_compressed_rle(ann["segmentation"], h, w))
            crops.append(CropMask(mc.crop.astype(bool), mc.x0, mc.y0, (h, w)))
        if settings is not None:
            crops = refine_crops(grey, crops, settings)
        rles = [rle_from_crop(c) for c in crops if c.area_px]
        tables.append(measure_instances(rles, grey, image["id"], image["file_name"]))
    return pd.concat(tables, ignore_index=True)


def measure_batch(batch: Path, pred_dir: Path, calibration: Path | None) -> dict[str, pd.DataFrame]:
    """The particle tables of one batch (``gt``, ``pred``, ``image``; ``pred cal`` with a calibration)."""
    gt = measure_coco(batch / "truth" / "label_test_gt.json", images_dir=batch / "test")
    pred = pd.read_parquet(pred_dir / "particles.parquet")
    tables = {"gt": gt, "pred": pred, "image": image_limited(batch, refine_settings(pred_dir))}
    if calibration is not None:
        tables["pred cal"] = apply_calibration(pred, load_calibration(calibration))
    return tables


def pair_rows(a: dict, b: dict, label: str, rng: np.random.Generator, n_boot: int) -> list[dict]:
    """One row per descriptor: gt / pred / image shifts with CIs and the pass verdict."""
    rows = []
    for col in SHAPE + SIZE:
        size = col in SIZE
        got = {k: shift_ci(counted(a[k], size), counted(b[k], size), col, rng, n_boot) for k in a}
        g, p = got["gt"][0], got["pred"][0]
        ok = np.sign(g) == np.sign(p) and abs(p - g) <= 0.25 * abs(g)
        row = {"pair": label, "descriptor": col}
        for k in got:
            s, lo, hi = got[k]
            row[f"{k} shift %"] = f"{s:+.1f} ({lo:+.1f} to {hi:+.1f})"
        row["pass"] = "yes" if ok else "no"
        rows.append(row)
    return rows


def straight_row(name: str, batch: Path, pred_dir: Path) -> dict:
    """Straight-run share of label masks and of the counted predictions of one batch."""
    gt_share = straight_of_submission(batch / "truth" / "label_test_gt.json", None)
    pred_share = straight_of_submission(pred_dir / "submission.json", pred_dir)
    return {"batch": name, "label masks %": 100 * gt_share, "predictions %": 100 * pred_share,
            "ratio": pred_share / gt_share if gt_share else float("nan")}  # fmt: skip


def split_bias_rows(pred_dir: Path, gt_json: Path, images: Path) -> list[dict]:
    """Median of each descriptor, predictions vs label masks of the frames the run predicted, and the straight-run
    shares of both (bars of a labelled test split)."""
    import tempfile

    from flocshape.score.inputs import subset_coco

    pred = pd.read_parquet(pred_dir / "particles.parquet")
    gt_all = json.loads(gt_json.read_text())
    subset = subset_coco(gt_all, set(pred["file_name"]))
    with tempfile.TemporaryDirectory() as tmp:
        gt_path = Path(tmp) / "gt.json"
        gt_path.write_text(json.dumps(subset))
        gt = measure_coco(gt_path, images_dir=images)
        gt_share = straight_of_submission(gt_path, None)
    rows = []
    for col in SHAPE + SIZE:
        size = col in SIZE
        g = float(np.nanmedian(counted(gt, size)[col]))
        p = float(np.nanmedian(counted(pred, size)[col]))
        rows.append({"descriptor": col, "label masks": g, "predictions": p, "bias %": 100 * (p / g - 1)})
    pred_share = straight_of_submission(pred_dir / "submission.json", pred_dir)
    all_share = straight_of_submission(pred_dir / "submission.json", pred_dir, counted_only=False)
    rows.append({"descriptor": "straight-run share %", "label masks": 100 * gt_share,
                 "predictions": 100 * pred_share, "bias %": f"x{pred_share / gt_share:.2f} (all: {100 * all_share:.2f} %)"})  # fmt: skip
    return rows


def parse_spec(text: str) -> tuple[float, float | None]:
    """``ROUGHNESS:ELONGATION`` (elongation may be empty) of a ``--pair`` batch."""
    try:
        rough, _, elong = text.partition(":")
        return float(rough), (float(elong) if elong.strip() else None)
    except ValueError as exc:
        raise input_error("--pair", f"not ROUGHNESS:ELONGATION: {text!r}") from exc


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    own, extra = split_passthrough(argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="work folder (batches are shared between names)")
    ap.add_argument("--name", default="card", help="name of this prediction setting (sub-folder of --work)")
    ap.add_argument("--seed", type=int, default=11, help="generator seed of every batch (default 11)")
    ap.add_argument(
        "--frames", type=int, default=60, help="test frames per batch, a multiple of 10 (default 60)"
    )
    ap.add_argument("--roughness", type=float, nargs="+", default=[0.2, 0.5, 0.9])
    ap.add_argument("--pair", default="0.2:,0.9:0.7",
                    help="ROUGHNESS:ELONGATION of the two batches of the joint pair, elongation empty = the "
                         "preset's (0.35); default 0.2:,0.9:0.7")  # fmt: skip
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)")
    ap.add_argument("--calibration", type=Path,
                    help="infer/calibrate.py fit output (reference frames, never these batches): adds 'pred cal'")  # fmt: skip
    ap.add_argument(
        "--real", type=Path, help="a folder of real frames: label-free table, straight runs, overlays"
    )
    ap.add_argument(
        "--split-pred", type=Path, help="a predict run on a labelled split: bias table vs its labels"
    )
    ap.add_argument("--split-gt", type=Path, help="COCO labels of that split (truth/label_test_gt.json)")
    args = ap.parse_args(own)
    if args.frames < BLOCK or args.frames % BLOCK:
        raise input_error("--frames", f"must be a positive multiple of {BLOCK}, got {args.frames}")
    return args, extra


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    rng = np.random.default_rng(0)
    a_spec, b_spec = (parse_spec(text) for text in args.pair.split(","))
    specs = [(r, None) for r in args.roughness] + [a_spec, b_spec]
    measured: dict[str, dict[str, pd.DataFrame]] = {}
    straight = []
    for roughness, elongation in specs:
        name = batch_name(roughness, elongation)
        if name in measured:
            continue
        batch = generate(args.work, roughness, elongation, args.seed, args.frames)
        pred_dir = args.work / args.name / name
        if not (pred_dir / "particles.parquet").is_file():
            run("infer/predict.py", "--source", batch / "test", "--images-json", batch / "label_test.json",
                "--out", pred_dir, *extra)  # fmt: skip
        measured[name] = measure_batch(batch, pred_dir, args.calibration)
        straight.append(straight_row(name, batch, pred_dir))
    names = [batch_name(r, None) for r in args.roughness]
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            rows += pair_rows(measured[a], measured[b], f"{a} → {b}", rng, args.bootstrap)
    ja, jb = batch_name(*a_spec), batch_name(*b_spec)
    rows += pair_rows(measured[ja], measured[jb], f"{ja} → {jb}", rng, args.bootstrap)
    print(
        f"\n## Boundary-shape shifts ({args.name}; seed {args.seed}, {args.frames} test frames per batch)\n"
    )
    print(markdown(rows))
    shape_rows = [r for r in rows if r["descriptor"] in SHAPE]
    print(f"\nshape pairs passing: {sum(r['pass'] == 'yes' for r in shape_rows)} of {len(shape_rows)}")
    print("\n## Straight-run share of outlines (runs >= 12 px)\n")
    print(markdown(straight))
    if args.real is not None:
        real_dir = args.work / args.name / "real"
        if not (real_dir / "submission.json").is_file():
            run("infer/predict.py", "--source", args.real, "--out", real_dir, "--save-overlays", *extra)
        print(f"\n## Real frames ({args.real})\n")
        print(markdown(label_free_table(real_dir)))
        print(f"\noverlays: {real_dir / 'overlays'}")
    if args.split_pred is not None:
        if args.split_gt is None:
            raise input_error("--split-pred", "needs --split-gt")
        images = Path(json.loads((args.split_pred / "manifest.json").read_text())["args"]["source"])
        print(f"\n## Labelled split: {args.split_pred} vs {args.split_gt}\n")
        print(markdown(split_bias_rows(args.split_pred, args.split_gt, images)))
    summary = {
        "name": args.name,
        "predict_args": extra,
        "calibration": str(args.calibration),
        "pairs": rows,
        "straight": straight,
    }
    (args.work / args.name / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
