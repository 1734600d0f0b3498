"""Train/val split by groups, so that related frames never land on both sides (no leakage).

Group keys (one per image, strings):

* ``group_size=N``: video blocks, ``(frame - 1) // N`` where ``frame`` is the last run of digits in the
  file name's stem (``0002.jpg`` -> frame 2 -> block 0 for N = 10);
* ``group_by=REGEX``: searched in the ``file_name``; the first capture group, else the whole match;
* ``group_key=FIELD``: the value of that field of the COCO image record (e.g. ``doi``);
* none of them: every image is its own group.

:func:`group_split` then shuffles the sorted distinct keys with ``numpy.random.default_rng(seed)`` and moves
whole groups to validation until at least ``round(val_frac * n_images)`` images are there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

import numpy as np

_DIGITS = re.compile(r"\d+")


def frame_number(file_name: str) -> int:
    """The frame number of a file: the last run of digits in its stem. ``ValueError`` if there is none."""
    runs = _DIGITS.findall(PurePath(file_name).stem)
    if not runs:
        raise ValueError(f"no digits in the file name {file_name!r} to take a frame number from")
    return int(runs[-1])


def block_key(file_name: str, group_size: int) -> str:
    """Group key of a frame for blocks of ``group_size`` consecutive frames (frames count from 1)."""
    return f"block{(frame_number(file_name) - 1) // group_size}"


def regex_key(file_name: str, pattern: re.Pattern[str]) -> str:
    """Group key from a regular expression: first capture group if any, else the whole match."""
    match = pattern.search(file_name)
    if match is None:
        raise ValueError(f"--group-by pattern {pattern.pattern!r} does not match {file_name!r}")
    return match.group(1) if pattern.groups else match.group(0)


def field_key(record: dict[str, Any], field_name: str) -> str:
    """Group key from a field of the image record (``ValueError`` when it is missing or empty)."""
    value = record.get(field_name)
    if value is None or value == "":
        raise ValueError(f"image record has no '{field_name}' to group by")
    return str(value)


def group_split(keys: Sequence[str], val_frac: float, seed: int) -> list[bool]:
    """``is_val`` per image: whole groups go to validation, deterministic for a seed.

    ``val_frac = 0`` puts everything in train. With ``val_frac > 0`` at least one group goes to
    validation and at least one stays in train; ``ValueError`` if there is only one group.
    """
    if not 0.0 <= val_frac < 1.0:
        raise ValueError(f"val_frac must be in [0, 1), got {val_frac}")
    if val_frac == 0.0 or not keys:
        return [False] * len(keys)
    sizes = Counter(keys)
    if len(sizes) < 2:
        raise ValueError(
            f"cannot split a single group ({next(iter(sizes))!r}) into train and val; use --val-frac 0"
        )
    groups = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(groups))
    target = max(1, round(val_frac * len(keys)))
    val_groups: set[str] = set()
    n_val = 0
    for idx in order[:-1]:  # the last group in the shuffled order always stays in train
        if n_val >= target:
            break
        val_groups.add(groups[int(idx)])
        n_val += sizes[groups[int(idx)]]
    return [k in val_groups for k in keys]
