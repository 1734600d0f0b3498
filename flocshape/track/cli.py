"""``infer/track.py``: link particles across the frames of each block and fit trends over time.

Output folder (atomic): ``tracks.parquet`` (one row per instance: image_id, instance_id, track_id,
frame, block, file_name, link stage, mask geometry), ``track_series.parquet`` (per-track time series
of each descriptor), ``trends.csv`` (see :mod:`flocshape.track.trends`), ``summary.json``,
``manifest.json``.

Which instances are linked: all of ``--pred`` (above ``--min-score`` when given), except that predictions the
particle table (``--particles``) flags ``low_score`` — below the run's measurement threshold, chosen on
validation frames (``flocshape.score.postprocess``) — are left out unless ``keep_low_score``: weak detections
(fragments, out-of-focus blobs) make short tracks that do not follow the particles' growth.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flocshape.cliargs import Parser, integer, non_negative, positive, real
from flocshape.errors import input_error
from flocshape.fsio import atomic_dir, atomic_write_bytes, atomic_write_json, table_bytes
from flocshape.manifest import build_manifest, describe_input, write_manifest
from flocshape.outputs import claim_dir
from flocshape.stats.distributions import SHAPE_DESCRIPTORS
from flocshape.track.associate import TRACK_COLUMNS, LinkParams, build_tracks
from flocshape.track.instances import load_instances
from flocshape.track.trends import block_trends, track_series

GEOMETRY_DESCRIPTORS = ("area_px", "ecd_px")
TOOL = "infer/track.py"


def read_particles(path: Path) -> pd.DataFrame:
    """A particle table (``.parquet`` or ``.csv``); a one-line ``InputError`` when missing or unreadable."""
    try:
        return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except FileNotFoundError as exc:
        raise input_error(path, "no such particle table") from exc
    except (OSError, ValueError) as exc:
        raise input_error(path, f"cannot read table ({type(exc).__name__}: {exc})") from exc


def check_same_particles(instances: pd.DataFrame, particles: pd.DataFrame, path: object) -> None:
    """Refuse a particle table that does not describe ``instances``: each instance needs exactly one row with
    its ``image_id, instance_id`` and, when the table has ``area_px``, the same pixel count (a table of
    another run joins wrongly or not at all)."""
    missing = [c for c in ("image_id", "instance_id") if c not in particles.columns]
    if missing:
        raise input_error(path, f"no column(s) {', '.join(missing)}")
    keys = particles[["image_id", "instance_id"]]
    if keys.duplicated().any():
        first = keys[keys.duplicated()].iloc[0]
        raise input_error(path, f"image_id {first.image_id}, instance_id {first.instance_id} appears twice")
    cols = ["image_id", "instance_id", *(["area_px"] if "area_px" in particles.columns else [])]
    joined = instances[["image_id", "instance_id", "area_px"]].merge(
        particles[cols], on=["image_id", "instance_id"], how="left", suffixes=("", "_table"), indicator=True
    )
    bad = joined["_merge"] != "both"
    if "area_px_table" in joined.columns:
        bad |= ~np.isclose(joined["area_px"].astype(float), joined["area_px_table"].astype(float), atol=0.5)
    if bad.any():
        first = joined[bad].iloc[0]
        raise input_error(
            path,
            f"does not describe the predictions: {int(bad.sum())} of {len(joined)} have no row or another "
            f"area_px (first: image_id {first.image_id}, instance_id {first.instance_id}); give the particle "
            "table of the same run",
        )


def drop_low_score(instances: pd.DataFrame, particles: pd.DataFrame | None) -> pd.DataFrame:
    """``instances`` without the ones the particle table flags ``low_score`` (joined on image_id, instance_id)."""
    if particles is None or "low_score" not in particles.columns:
        return instances
    flagged = particles.loc[particles["low_score"].fillna(False).astype(bool), ["image_id", "instance_id"]]
    if flagged.empty:
        return instances
    keys = pd.MultiIndex.from_frame(instances[["image_id", "instance_id"]].astype("int64"))
    drop = keys.isin(pd.MultiIndex.from_frame(flagged.astype("int64")))
    return instances[~drop].reset_index(drop=True)


def default_descriptors(particles: pd.DataFrame | None) -> list[str]:
    """area_px and ecd_px, plus every shape descriptor of the particle table when one is given."""
    if particles is None:
        return list(GEOMETRY_DESCRIPTORS)
    return [*GEOMETRY_DESCRIPTORS, *[d for d in SHAPE_DESCRIPTORS if d in particles.columns]]


def area_growth_all_blocks(trends: pd.DataFrame) -> dict[str, object] | None:
    """The headline trend row: area growth over all blocks (``track_median`` of ln area; ``rate_per_frame``
    = exp(slope) - 1), as a dict with NaN as ``None``; ``None`` when the trend table has no such row."""
    head = trends[(trends.scope == "all") & (trends.descriptor == "area_px") & (trends["value_scale"] == "log")
                  & (trends.method == "track_median")]  # fmt: skip
    return head.iloc[0].replace({np.nan: None}).to_dict() if len(head) else None


def _summary(
    tracked: pd.DataFrame, trends: pd.DataFrame, params: LinkParams, min_len: int
) -> dict[str, object]:
    lengths = tracked.groupby("track_id").size()
    area = area_growth_all_blocks(trends)
    return {
        "n_instances": len(tracked),
        "n_images": int(tracked["image_id"].nunique()),
        "n_blocks": int(tracked["block"].nunique()),
        "time_axis": "time_s (seconds) and frame" if "time_s" in tracked.columns else "frame",
        "n_tracks": int(lengths.size),
        "n_tracks_min_len": int((lengths >= min_len).sum()),
        "track_length_median": float(lengths.median()) if lengths.size else None,
        "links": {k: int(v) for k, v in tracked["link"].value_counts().sort_index().items()},
        "params": params.as_dict(),
        "area_growth_all_blocks": area,
    }


def run_track(
    pred: str | Path,
    out: str | Path,
    images_json: str | Path | None = None,
    particles: str | Path | None = None,
    descriptors: Sequence[str] | None = None,
    block_size: int = 10,
    params: LinkParams | None = None,
    min_score: float | None = None,
    min_track_len: int = 3,
    include_border: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
    keep_low_score: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Track, fit trends and write the output folder; returns (tracks, trends)."""  # fmt: skip
    prm = params or LinkParams()
    instances = load_instances(pred, images_json, block_size=block_size, min_score=min_score)
    part = read_particles(Path(particles)) if particles is not None else None
    if part is not None:
        check_same_particles(instances, part, particles)
        if not keep_low_score and "low_score" not in part.columns and instances["score"].notna().any():
            print(f"warning: {particles}: no low_score column: no detection is left out as low-scored",
                  file=sys.stderr)  # fmt: skip
    if not keep_low_score:
        instances = drop_low_score(instances, part)
    if instances.empty:
        raise input_error(pred, "no instances to track")
    chosen = list(descriptors) if descriptors else default_descriptors(part)
    tracked = build_tracks(instances, prm)
    series = track_series(tracked, part, chosen, include_border, str(particles or "--particles"))
    trends = block_trends(series, chosen, min_track_len=min_track_len, n_boot=n_boot, seed=seed)
    first = [*TRACK_COLUMNS, "file_name", "link"]
    tracks_out = tracked[first + [c for c in tracked.columns if c not in first]]
    with atomic_dir(out) as tmp:
        atomic_write_bytes(tmp / "tracks.parquet", table_bytes(tracks_out, "parquet"))
        atomic_write_bytes(tmp / "track_series.parquet", table_bytes(series, "parquet"))
        atomic_write_bytes(tmp / "trends.csv", table_bytes(trends, "csv"))
        atomic_write_json(tmp / "summary.json", _summary(tracked, trends, prm, min_track_len))
        inputs = {"pred": describe_input(pred)}
        if images_json is not None:
            inputs["images_json"] = describe_input(images_json)
        if particles is not None:
            inputs["particles"] = describe_input(particles)
        args = {"pred": str(pred), "images_json": images_json and str(images_json), "particles": particles and
                str(particles), "descriptors": chosen, "block_size": block_size, "min_score": min_score,
                "min_track_len": min_track_len, "include_border": include_border, "n_boot": n_boot, "seed": seed,
                "keep_low_score": keep_low_score, **prm.as_dict()}  # fmt: skip
        write_manifest(tmp, build_manifest(TOOL, args, inputs))
    return tracks_out, trends


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of ``infer/track.py``."""
    d = LinkParams()
    ap = Parser(prog="infer/track.py", description="Link particles across frames of each block (mask IoU + "
                "Hungarian) and fit descriptor trends over time.")  # fmt: skip
    ap.add_argument(
        "--pred", required=True, help="COCO results/submission list, or a COCO instances file (GT)"
    )
    ap.add_argument("--images-json", help="COCO file with the images list (needed for a results list)")
    ap.add_argument(
        "--particles",
        help="particle table (.parquet/.csv) of the same instances: shape descriptors, low_score flags",
    )
    ap.add_argument("--out", required=True, help="output folder (an earlier track output is replaced)")
    ap.add_argument("--overwrite", action="store_true", help="replace an --out folder another tool wrote")
    ap.add_argument(
        "--descriptors", nargs="+", help="descriptors to follow (default: area_px ecd_px + shape)"
    )
    ap.add_argument("--block-size", type=integer(1), default=10,
                    help="frames per block: block = (frame-1)//N (10)")  # fmt: skip
    ap.add_argument("--iou-gate", type=real(0.0, 1.0, lo_open=True), default=d.iou_gate,
                    help=f"min mask IoU to link ({d.iou_gate})")  # fmt: skip
    ap.add_argument(
        "--small-area-px",
        type=non_negative(),
        default=d.small_area_px,
        help=f"centroid fallback for particles below this area ({d.small_area_px:g})",
    )
    ap.add_argument(
        "--max-centroid-px",
        type=positive(),
        default=d.max_centroid_px,
        help=f"centroid fallback distance gate ({d.max_centroid_px:g})",
    )
    ap.add_argument(
        "--max-area-ratio",
        type=real(1.0),
        default=d.max_area_ratio,
        help=f"centroid fallback area-ratio gate, >= 1 ({d.max_area_ratio:g})",
    )
    ap.add_argument(
        "--max-frame-gap", type=integer(1), default=d.max_frame_gap, help="link across missing frames (1)"
    )
    ap.add_argument(
        "--max-missed",
        type=integer(0),
        default=d.max_missed,
        help=f"frames a particle may go undetected without ending its track ({d.max_missed})",
    )
    ap.add_argument(
        "--min-score",
        type=real(),
        help="also drop predictions scored below this (--particles' low_score flags apply as well unless "
        "--keep-low-score)",
    )
    ap.add_argument(
        "--keep-low-score", action="store_true", help="also link predictions --particles flags low_score"
    )
    ap.add_argument(
        "--min-track-len", type=integer(2), default=3, help="frames a track needs for a slope (3)"
    )
    ap.add_argument(
        "--include-border", action="store_true", help="keep border-touching instances in the series"
    )
    ap.add_argument("--bootstrap", type=integer(0), default=2000)
    ap.add_argument("--seed", type=integer(0), default=0)
    return ap  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``infer/track.py``; prints the all-blocks trends."""
    a = build_parser().parse_args(argv)
    claim_dir(a.out, TOOL, [a.pred, a.images_json, a.particles], a.overwrite)
    prm = LinkParams(a.iou_gate, a.small_area_px, a.max_centroid_px, a.max_area_ratio, a.max_frame_gap,
                     a.max_missed)  # fmt: skip
    beside = Path(a.pred).with_name("particles.parquet")
    if a.particles is None and a.images_json is not None and beside.is_file():
        print(f"note: {beside} is not used; pass --particles {beside} to leave out the detections it flags "
              "low_score and to follow its shape descriptors")  # fmt: skip
    tracks, trends = run_track(a.pred, a.out, a.images_json, a.particles, a.descriptors, a.block_size, prm,
                               a.min_score, a.min_track_len, a.include_border, a.bootstrap, a.seed,
                               a.keep_low_score)  # fmt: skip
    overall = trends[(trends.scope == "all")]
    cols = [
        "descriptor",
        "method",
        "value_scale",
        "slope_per_frame",
        "ci_low",
        "ci_high",
        "rate_per_frame",
        *[c for c in ("rate_per_s",) if c in overall.columns],
        "n_tracks",
    ]
    print(f"{tracks['track_id'].nunique()} tracks from {len(tracks)} instances")
    print(overall[cols].to_string(index=False))
    print(f"wrote {a.out}")
    return 0
