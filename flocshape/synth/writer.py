"""Plan the data set (splits, image ids), run the blocks, and stream every output file into place.

Output folder (built in a temporary sibling and renamed into place only when complete)::

    train/NNNN.jpg  test/NNNN.jpg            frames, NNNN = 4-digit video frame number
    label_train.json                        COCO, compressed RLE (str counts)
    label(polygon)_train.json               COCO, polygons (these rasterise exactly to the RLE masks)
    label_test.json                         COCO, images and categories only
    truth/label_test_gt.json                COCO test labels, compressed RLE
    truth/particles.parquet                 one row per particle per frame (labelled or not)
    truth/bubbles.parquet                   one row per bubble per frame (never labelled)
    card.json                               every knob, counts, hard-case proportions
    manifest.json                           provenance

Blocks: frame ``f`` (1-based) belongs to block ``(f - 1) // 10``. Train keeps frames 2-9 of its blocks, test
keeps whole blocks; no block is in both. COCO image ids are a random permutation of ``1..N`` (N = output
frames) with no id equal to its file's frame number. Annotation ids run 1, 2, ... in block order.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from flocshape.fsio import atomic_dir, atomic_write_json
from flocshape.manifest import build_manifest, write_manifest
from flocshape.synth.block import BlockResult, BlockTask, render_block
from flocshape.synth.config import BLOCK_FRAMES, TRAIN_FRAMES_IN_BLOCK, SynthConfig, as_dict, test_block_count
from flocshape.synth.randomise import RANGES, randomised_config
from flocshape.synth.stats import card_statistics

CATEGORIES = [{"id": 1, "name": "Normal", "supercategory": "floc"}]
TRACK_ID_STRIDE = 1_000_000
ELONGATION_STREAM = 0xE1  # entropy tag of the per-block elongation draws (see block_elongation)
"""Track ids of block b start at ``b * TRACK_ID_STRIDE + 1``."""


def split_blocks(rng: np.random.Generator, cfg: SynthConfig) -> list[str]:
    """``"train"`` or ``"test"`` for each block; ``test_block_count`` blocks drawn at random are test."""
    n_blocks = cfg.frames // BLOCK_FRAMES
    test = set(rng.choice(n_blocks, size=test_block_count(cfg), replace=False).tolist())
    return ["test" if b in test else "train" for b in range(n_blocks)]


def block_frames(block: int, split: str) -> list[int]:
    """Video frame numbers (1-based) that ``split`` keeps from ``block``."""
    first = block * BLOCK_FRAMES + 1
    keep = TRAIN_FRAMES_IN_BLOCK if split == "train" else range(1, BLOCK_FRAMES + 1)
    return [first + k - 1 for k in keep]


def permuted_image_ids(rng: np.random.Generator, frames: list[int]) -> list[int]:
    """A random permutation of ``1..len(frames)`` with ``ids[i] != frames[i]`` for every i."""
    n = len(frames)
    ids = rng.permutation(n) + 1
    frames_arr = np.asarray(frames)
    for _ in range(100):
        fixed = np.flatnonzero(ids == frames_arr)
        if not len(fixed):
            break
        for i in fixed:
            j = int(rng.integers(0, n))
            ids[i], ids[j] = ids[j], ids[i]
    if np.any(ids == frames_arr):  # n == 1 with frames == [1]: no permutation avoids it
        raise ValueError("cannot permute image ids away from frame numbers")
    return [int(i) for i in ids]


def block_elongation(cfg: SynthConfig, block: int) -> float:
    """The elongation knob of block ``block``: ``cfg.elongation``, or with ``elongation_max`` above it a uniform
    draw from [elongation, elongation_max] by a generator of its own (seed, block), so that every other random
    draw, and hence the rest of the data set, is the same as without the range."""
    if cfg.elongation_max <= cfg.elongation:
        return cfg.elongation
    rng = np.random.default_rng([cfg.seed, ELONGATION_STREAM, block])
    return float(rng.uniform(cfg.elongation, cfg.elongation_max))


def block_config(cfg: SynthConfig, block: int) -> SynthConfig:
    """The configuration a block is rendered with: its own elongation (``--elongation-max``) and its own look
    (``--randomise``, :mod:`flocshape.synth.randomise`); ``cfg`` itself when neither is on."""
    elongation = block_elongation(cfg, block)
    out = cfg if elongation == cfg.elongation else dataclasses.replace(cfg, elongation=elongation)
    return randomised_config(out, block)


def plan_tasks(cfg: SynthConfig, root: Path) -> list[BlockTask]:
    """One task per block, with its seed, split, output frames and their image ids."""
    n_blocks = cfg.frames // BLOCK_FRAMES
    plan_seed, *block_seeds = np.random.SeedSequence(cfg.seed).spawn(n_blocks + 1)
    rng = np.random.default_rng(plan_seed)
    splits = split_blocks(rng, cfg)
    frames = [block_frames(b, s) for b, s in enumerate(splits)]
    flat = [f for fs in frames for f in fs]
    ids = iter(permuted_image_ids(rng, flat))
    return [
        BlockTask(
            cfg=block_config(cfg, b),
            block=b,
            split=s,
            seed=block_seeds[b],
            frames=[(f, next(ids)) for f in frames[b]],
            first_track_id=b * TRACK_ID_STRIDE + 1,
            images_dir=root / s,
        )
        for b, s in enumerate(splits)
    ]


class CocoStream:
    """Writes a COCO file with its annotations streamed one at a time (images are known up front)."""

    def __init__(self, path: Path, images: list[dict[str, Any]], with_annotations: bool = True) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._n = 0
        self._with_annotations = with_annotations
        head = ",\n".join(json.dumps(img, separators=(",", ":")) for img in images)
        self._fh.write('{"images": [\n' + head + "\n]")
        if with_annotations:
            self._fh.write(',\n"annotations": [')

    def add(self, annotation: dict[str, Any]) -> None:
        """Append one annotation."""
        self._fh.write(("," if self._n else "") + "\n" + json.dumps(annotation, separators=(",", ":")))
        self._n += 1

    def close(self) -> None:
        """Finish the JSON document."""
        if self._with_annotations:
            self._fh.write("\n]")
        self._fh.write(',\n"categories": ' + json.dumps(CATEGORIES) + "}\n")
        self._fh.close()


def _run(tasks: list[BlockTask], workers: int) -> Iterator[BlockResult]:
    """Block results in block order, rendered by ``workers`` processes (1 = in this process)."""
    if workers <= 1:
        for task in tasks:
            yield render_block(task)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(render_block, tasks, chunksize=1)


def _annotation(ann_id: int, image_id: int, label: Any, polygon: bool) -> dict[str, Any]:
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "segmentation": label.polygons if polygon else label.rle,
        "area": label.area_px,
        "bbox": [round(v, 2) for v in label.bbox],
        "iscrowd": 0,
    }


def generate(
    cfg: SynthConfig, out: Path, preset: str, workers: int = 1, overwrite: bool = False
) -> dict[str, Any]:
    """Write the whole data set to ``out`` (atomically) and return the card (also in ``card.json``)."""
    with atomic_dir(out, overwrite=overwrite) as root:
        tasks = plan_tasks(cfg, root)
        for split in ("train", "test"):
            (root / split).mkdir()
        images = {
            s: sorted(
                (img for t in tasks if t.split == s for img in _images(cfg, t)), key=lambda i: i["file_name"]
            )
            for s in ("train", "test")
        }
        train_rle = CocoStream(root / "label_train.json", images["train"])
        train_poly = CocoStream(root / "label(polygon)_train.json", images["train"])
        test_gt = CocoStream(root / "truth" / "label_test_gt.json", images["test"])
        CocoStream(root / "label_test.json", images["test"], with_annotations=False).close()
        truth = _TableStream(root / "truth" / "particles.parquet")
        bubbles = _TableStream(root / "truth" / "bubbles.parquet")
        rims: dict[int, bool] = {}
        ann_id = 0
        for result in _run(tasks, workers):
            rims[result.block] = result.has_rim
            rows, bubble_rows = [], []
            for fr in result.frames:
                ann_ids = []
                for label in fr.labels:
                    ann_id += 1
                    ann_ids.append(ann_id)
                    if result.split == "train":
                        train_rle.add(_annotation(ann_id, fr.image["id"], label, polygon=False))
                        train_poly.add(_annotation(ann_id, fr.image["id"], label, polygon=True))
                    else:
                        test_gt.add(_annotation(ann_id, fr.image["id"], label, polygon=False))
                frame = int(fr.image["file_name"][:4])
                head = {
                    "split": result.split,
                    "image_id": fr.image["id"],
                    "file_name": fr.image["file_name"],
                    "frame": frame,
                    "block": result.block,
                }
                for row in fr.rows:
                    idx = row.pop("ann_index")
                    rows.append({**head, "ann_id": ann_ids[idx] if idx >= 0 else -1, **row})
                bubble_rows.extend({**head, **b} for b in fr.bubbles)
            truth.write(pd.DataFrame(rows))
            bubbles.write(pd.DataFrame(bubble_rows))
        for stream in (train_rle, train_poly, test_gt):
            stream.close()
        truth.close()
        bubbles.close()
        card = {
            "preset": preset,
            "knobs": as_dict(cfg),
            "workers": workers,
            "blocks": {s: sorted(t.block for t in tasks if t.split == s) for s in ("train", "test")},
            "blocks_with_rim": sorted(b for b, r in rims.items() if r),
            "statistics": card_statistics(root, cfg),
        }
        if cfg.elongation_max > cfg.elongation:
            card["block_elongation"] = {str(t.block): round(t.cfg.elongation, 6) for t in tasks}
        if cfg.randomise > 0:
            card["block_knobs"] = {
                str(t.block): {k: round(float(getattr(t.cfg, k)), 6) for k in RANGES} for t in tasks
            }
        atomic_write_json(root / "card.json", card)
        write_manifest(
            root,
            build_manifest(
                "datasets/synthesize.py",
                {"preset": preset, "workers": workers, **as_dict(cfg)},
                outputs=sorted(p.name for p in root.iterdir()),
            ),
        )
    return card


def _images(cfg: SynthConfig, task: BlockTask) -> list[dict[str, Any]]:
    return [
        {"id": i, "file_name": f"{f:04d}.jpg", "height": cfg.height, "width": cfg.width}
        for f, i in task.frames
    ]


class _TableStream:
    """Appends DataFrames to one Parquet file; the schema is fixed by the first non-empty frame."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def write(self, df: pd.DataFrame) -> None:
        if df.empty:
            return
        table = pa.Table.from_pandas(df, preserve_index=False, schema=self._schema)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self._path, self._schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is None:
            pq.write_table(pa.table({}), self._path)
        else:
            self._writer.close()
