"""Instance masks straight from YOLO-seg prototypes, one box at a time, at the original frame's pixel grid.

Why: Ultralytics' ``retina_masks`` path builds an ``N x H x W`` stack for the whole frame (and the default path an
``N x H_in x W_in`` float32 stack); at 1000 particles per 1024x1280 frame that is GBs. Here each instance's mask
is computed only inside its box, thresholded, run-length encoded and dropped.

Conventions
-----------
* Pixel ``(row i, column j)`` of the original frame covers ``[j, j+1) x [i, i+1)``; its centre is ``(j+0.5, i+0.5)``.
* The letterbox (Ultralytics ``LetterBox``, centred) scales the frame by ``unpad_w / w0`` (``unpad_h / h0``) and pads
  ``left`` / ``top`` pixels; prototypes have a stride of ``in_w / proto_w`` (4 for YOLOv8/11/26-seg) input pixels.
* A frame pixel centre ``x0 + 0.5`` therefore lies at prototype *index* coordinate
  ``u = (left + (x0 + 0.5) * unpad_w / w0) / stride - 0.5``; the logit there is the bilinear interpolation of the
  prototype-resolution logits with edge clamping (``F.interpolate(..., align_corners=False)`` semantics). This is
  the same field Ultralytics' ``retina_masks=True`` resamples, in one exact step instead of two.
* As in Ultralytics, a mask is cut to its predicted box: column ``j`` is kept when ``x1 <= j < x2`` (same for rows),
  optionally widened by ``box_pad_px`` pixels on each side. The mask is ``logit > 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


@dataclass(frozen=True)
class LetterboxGeometry:
    """How a frame of ``orig_hw`` was letterboxed into the network input of ``input_hw`` (both ``(H, W)`` px)."""

    orig_hw: tuple[int, int]
    input_hw: tuple[int, int]
    scale_x: float  # input px per frame px along x (= unpad_w / w0)
    scale_y: float
    left_px: int  # letterbox padding on the left / top, input px
    top_px: int

    @classmethod
    def from_shapes(cls, input_hw: tuple[int, int], orig_hw: tuple[int, int]) -> LetterboxGeometry:
        """Recompute Ultralytics' centred ``LetterBox`` parameters from the input and frame shapes."""
        in_h, in_w = int(input_hw[0]), int(input_hw[1])
        h0, w0 = int(orig_hw[0]), int(orig_hw[1])
        gain = min(in_h / h0, in_w / w0)
        unpad_w, unpad_h = max(round(w0 * gain), 1), max(round(h0 * gain), 1)
        left = round((in_w - unpad_w) / 2 - 0.1)
        top = round((in_h - unpad_h) / 2 - 0.1)
        return cls((h0, w0), (in_h, in_w), unpad_w / w0, unpad_h / h0, left, top)


@dataclass(frozen=True)
class CropMask:
    """A binary instance mask stored only inside its window: ``mask[i, j]`` is frame pixel ``(y0 + i, x0 + j)``."""

    mask: np.ndarray  # bool (h, w)
    x0: int
    y0: int
    frame_hw: tuple[int, int]

    @property
    def area_px(self) -> int:
        """Number of mask pixels."""
        return int(np.count_nonzero(self.mask))

    def full(self) -> np.ndarray:
        """The mask as a full-frame ``bool`` array (allocates ``H x W``; for tests and small frames)."""
        out = np.zeros(self.frame_hw, dtype=bool)
        h, w = self.mask.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.mask
        return out

    def tight(self) -> CropMask:
        """The same mask in its tightest window (empty masks become a 0x0 window)."""
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        if rows.size == 0:
            return CropMask(np.zeros((0, 0), bool), self.x0, self.y0, self.frame_hw)
        sub = self.mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        return CropMask(sub, self.x0 + int(cols[0]), self.y0 + int(rows[0]), self.frame_hw)


def bilinear_matrix(sample_coords: np.ndarray, first_index: int, n_source: int) -> np.ndarray:
    """Row-stochastic matrix ``W`` so that ``W @ values[first_index:first_index+n_source]`` is the linear interpolation
    at ``sample_coords`` (source *index* coordinates), clamped to the whole source's edges ``[0, total-1]`` beforehand.

    ``sample_coords`` must already be clamped to the valid index range of the full source array.
    """
    base = np.floor(sample_coords).astype(np.int64)
    frac = (sample_coords - base).astype(np.float32)
    weights = np.zeros((sample_coords.size, n_source), dtype=np.float32)
    rows = np.arange(sample_coords.size)
    lo = np.clip(base - first_index, 0, n_source - 1)
    hi = np.clip(base + 1 - first_index, 0, n_source - 1)
    np.add.at(weights, (rows, lo), 1.0 - frac)
    np.add.at(weights, (rows, hi), frac)
    return weights


def _pixel_range(lo: float, hi: float, pad_px: int, limit: int) -> tuple[int, int]:
    """Frame pixel indices ``j`` with ``lo <= j < hi`` widened by ``pad_px``, clipped to ``[0, limit)``: ``(start, stop)``."""
    start = max(math.ceil(lo) - pad_px, 0)
    stop = min(math.ceil(hi) + pad_px, limit)
    return start, max(stop, start)


def _proto_coords(pixels: np.ndarray, scale: float, pad: int, stride: float, n_proto: int) -> np.ndarray:
    """Prototype index coordinates of frame pixel centres (see the module conventions), clamped to the grid."""
    coords = (pad + (pixels + 0.5) * scale) / stride - 0.5
    return np.clip(coords, 0.0, n_proto - 1.0)


def instance_crop_mask(
    proto: np.ndarray,
    coefficients: np.ndarray,
    box_xyxy: np.ndarray,
    geometry: LetterboxGeometry,
    box_pad_px: int = 0,
) -> CropMask:
    """Binary mask of one instance inside its (padded) box, at the frame's resolution.

    ``proto``: float32 ``(C, mh, mw)`` prototypes of the frame; ``coefficients``: ``(C,)`` mask coefficients;
    ``box_xyxy``: the box in frame pixels (edges, as Ultralytics' ``scale_boxes`` gives it).
    """
    n_channels, proto_h, proto_w = proto.shape
    h0, w0 = geometry.orig_hw
    stride_x = geometry.input_hw[1] / proto_w
    stride_y = geometry.input_hw[0] / proto_h
    x_start, x_stop = _pixel_range(float(box_xyxy[0]), float(box_xyxy[2]), box_pad_px, w0)
    y_start, y_stop = _pixel_range(float(box_xyxy[1]), float(box_xyxy[3]), box_pad_px, h0)
    if x_stop <= x_start or y_stop <= y_start:
        return CropMask(np.zeros((0, 0), bool), x_start, y_start, (h0, w0))
    u = _proto_coords(
        np.arange(x_start, x_stop, dtype=np.float64), geometry.scale_x, geometry.left_px, stride_x, proto_w
    )
    v = _proto_coords(
        np.arange(y_start, y_stop, dtype=np.float64), geometry.scale_y, geometry.top_px, stride_y, proto_h
    )
    u0, u1 = int(np.floor(u[0])), min(int(np.floor(u[-1])) + 1, proto_w - 1)
    v0, v1 = int(np.floor(v[0])), min(int(np.floor(v[-1])) + 1, proto_h - 1)
    window = proto[:, v0 : v1 + 1, u0 : u1 + 1].reshape(n_channels, -1)
    logits = (coefficients.astype(np.float32) @ window).reshape(v1 - v0 + 1, u1 - u0 + 1)
    wy = bilinear_matrix(v, v0, v1 - v0 + 1)
    wx = bilinear_matrix(u, u0, u1 - u0 + 1)
    crop_logits = wy @ logits @ wx.T
    return CropMask(crop_logits > 0, x_start, y_start, (h0, w0))


def rle_from_crop(crop: CropMask) -> dict[str, Any]:
    """COCO compressed RLE (``counts`` as ``str``) of a crop mask, without allocating the full frame.

    COCO RLE runs are column-major over the whole frame. The frame columns ``x0 .. x0+w-1`` form one contiguous
    stretch of that order, so the runs are computed on an ``H x w`` slab and offset by ``x0 * H`` zeros.
    """
    height, width = crop.frame_hw
    h, w = crop.mask.shape
    if h == 0 or w == 0 or not crop.mask.any():
        counts = [height * width]
    else:
        slab = np.zeros((height, w), dtype=np.uint8)
        slab[crop.y0 : crop.y0 + h, :] = crop.mask
        flat = slab.ravel(order="F")
        change = np.flatnonzero(np.diff(flat)) + 1
        edges = np.concatenate(([0], change, [flat.size]))
        runs = np.diff(edges)
        # runs alternate starting with the value flat[0]; COCO counts start with a run of zeros
        counts_list = runs.tolist()
        if flat[0] == 1:
            counts_list = [0, *counts_list]
        counts_list[0] += crop.x0 * height
        trailing_zeros = (width - crop.x0 - w) * height
        if flat[-1] == 0:
            counts_list[-1] += trailing_zeros
        elif trailing_zeros:
            counts_list.append(trailing_zeros)
        counts = counts_list
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    c = rle["counts"]
    return {"size": [height, width], "counts": c.decode("ascii") if isinstance(c, bytes) else c}
