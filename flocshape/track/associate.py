"""Link instances of consecutive frames of a block into tracks.

Method (per pair of consecutive frames t -> t'):

1. **Mask IoU + Hungarian**: IoU of every pair (pycocotools on compressed RLE), Hungarian assignment
   (``scipy.optimize.linear_sum_assignment``) on the cost ``1 - IoU``; a pair is kept when its IoU is
   at least ``iou_gate``.
2. **Centroid fallback** for particles a slow drift moves off their own footprint (small ones): among
   the still unmatched instances, pairs where at least one side is smaller than ``small_area_px`` are
   assigned by Hungarian on centroid distance, kept when the distance is at most ``max_centroid_px``
   and the area ratio (larger / smaller) at most ``max_area_ratio``.

Frames t and t' are consecutive *present* frames of the block with ``t' - t <= max_frame_gap``.

3. **Missed detections**: a track whose particle was not found in a frame stays *open* for up to
   ``max_missed`` further frames; instances of a later frame still unassigned after steps 1-2 are linked
   to open track ends by the same two stages (same gates; link stage ``iou_gap`` / ``centroid_gap``).
   A detector that misses a particle in one frame then does not cut its track in two. ``max_missed 0``
   ends a track at its first miss (no re-identification beyond that window).

Track ids are assigned in block, frame, instance order, so the result is deterministic.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment

TRACK_COLUMNS = ("image_id", "instance_id", "track_id", "frame", "block")


@dataclass(frozen=True)
class LinkParams:
    """Association settings (pixels; IoU and ratios dimensionless)."""

    iou_gate: float = 0.3
    small_area_px: float = 400.0
    max_centroid_px: float = 8.0
    max_area_ratio: float = 2.0
    max_frame_gap: int = 1
    max_missed: int = 1

    def as_dict(self) -> dict[str, float]:
        """Plain dict (for manifests)."""
        return asdict(self)


def iou_matrix(rles_a: list[dict], rles_b: list[dict]) -> np.ndarray:
    """Mask IoU of every pair, shape ``(len(rles_a), len(rles_b))``."""
    if not rles_a or not rles_b:
        return np.zeros((len(rles_a), len(rles_b)))
    enc = [{"size": r["size"], "counts": r["counts"].encode("ascii") if isinstance(r["counts"], str) else r["counts"]}
           for r in (*rles_a, *rles_b)]  # fmt: skip
    iou = mask_utils.iou(enc[len(rles_a) :], enc[: len(rles_a)], [0] * len(rles_a))
    return np.asarray(iou, dtype=float).reshape(len(rles_b), len(rles_a)).T


def _gated_assignment(cost: np.ndarray, allowed: np.ndarray) -> list[tuple[int, int]]:
    """Hungarian assignment on ``cost`` restricted to ``allowed`` pairs (others never chosen)."""
    if cost.size == 0 or not allowed.any():
        return []
    big = float(np.nanmax(np.where(allowed, cost, 0.0))) * 10 + 1e6
    rows, cols = linear_sum_assignment(np.where(allowed, cost, big))
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if allowed[i, j]]


def link_frames(prev: pd.DataFrame, nxt: pd.DataFrame, params: LinkParams) -> list[tuple[int, int, str]]:
    """Matched row positions ``(i in prev, j in nxt, stage)`` with stage ``iou`` or ``centroid``."""
    iou = iou_matrix(list(prev["rle"]), list(nxt["rle"]))
    pairs = [(i, j, "iou") for i, j in _gated_assignment(1.0 - iou, iou >= params.iou_gate)]
    free_a = np.setdiff1d(np.arange(len(prev)), [p[0] for p in pairs])
    free_b = np.setdiff1d(np.arange(len(nxt)), [p[1] for p in pairs])
    if free_a.size and free_b.size:
        area_a = prev["area_px"].to_numpy(float)[free_a][:, None]
        area_b = nxt["area_px"].to_numpy(float)[free_b][None, :]
        pa = prev[["centroid_x_px", "centroid_y_px"]].to_numpy(float)[free_a]
        pb = nxt[["centroid_x_px", "centroid_y_px"]].to_numpy(float)[free_b]
        dist = np.hypot(pa[:, None, 0] - pb[None, :, 0], pa[:, None, 1] - pb[None, :, 1])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.maximum(area_a, area_b) / np.minimum(area_a, area_b)
        allowed = (((area_a < params.small_area_px) | (area_b < params.small_area_px))
                   & (dist <= params.max_centroid_px) & (ratio <= params.max_area_ratio))  # fmt: skip
        allowed &= np.isfinite(dist)
        fallback = _gated_assignment(np.nan_to_num(dist), allowed)
        pairs += [(int(free_a[i]), int(free_b[j]), "centroid") for i, j in fallback]
    return pairs


def build_tracks(instances: pd.DataFrame, params: LinkParams | None = None) -> pd.DataFrame:
    """Track id for every instance of :func:`flocshape.track.instances.load_instances`' table.

    Returns ``instances`` (without the RLE) plus ``track_id`` (int, from 0) and ``link`` (how the
    instance was joined to its predecessor: ``start``, ``iou``, ``centroid``, ``iou_gap`` or ``centroid_gap``).
    """
    prm = params or LinkParams()
    table = instances.reset_index(drop=True)
    track_id = np.full(len(table), -1, dtype=np.int64)
    link = np.array(["start"] * len(table), dtype=object)
    next_id = 0
    for _, block in table.groupby("block", sort=True):
        prev: pd.DataFrame | None = None
        open_ends: list[int] = []  # table rows that end a track whose particle was missed since
        for _, cur in block.groupby("frame", sort=True):
            idx = cur.index.to_numpy()
            frame = int(cur["frame"].iloc[0])
            continued: set[int] = set()
            if prev is not None and frame - int(prev["frame"].iloc[0]) <= prm.max_frame_gap:
                for i, j, stage in link_frames(prev, cur, prm):
                    track_id[idx[j]] = track_id[prev.index[i]]
                    link[idx[j]] = stage
                    continued.add(int(prev.index[i]))
            ends = [r for r in open_ends if frame - int(table.at[r, "frame"]) <= prm.max_missed + 1]
            free = [k for k in idx if track_id[k] < 0]
            if ends and free:
                for i, j, stage in link_frames(table.loc[ends], table.loc[free], prm):
                    track_id[free[j]] = track_id[ends[i]]
                    link[free[j]] = f"{stage}_gap"
                    ends[i] = -1
            for k in idx:
                if track_id[k] < 0:
                    track_id[k] = next_id
                    next_id += 1
            missed_now = [] if prev is None else [int(r) for r in prev.index if int(r) not in continued]
            open_ends = [r for r in ends if r >= 0] + missed_now
            prev = cur
    out = table.drop(columns=["rle"], errors="ignore")
    out["track_id"] = track_id
    out["link"] = link
    return out
