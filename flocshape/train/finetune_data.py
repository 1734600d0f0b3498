"""The inputs of a few-shot fine-tune (``train/finetune.py``), checked before any work starts.

* The training images of a dataset YAML: its ``train`` entry (a string or a list of them), each a folder (image
  files in it and below) or a ``.txt`` list of image paths (one a line; ``./`` at the start of a line means the
  list's folder, another relative path the working folder, as in Ultralytics). Entries are relative to the YAML's
  ``path`` (absolute, or relative to the YAML's folder), else to the YAML's folder.
* The validation frames: the ``val`` entry, which must be one folder of whole frames (or given separately).
* The validation labels: a COCO file whose ``images`` include every validation frame (matched by base file name).

Every problem is a one-line :class:`~flocshape.errors.InputError` naming the file and the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flocshape.errors import input_error
from flocshape.fsio import is_image_file
from flocshape.records import check_coco, load_json


@dataclass(frozen=True)
class FinetuneData:
    """A checked fine-tune input: the dataset YAML (absolute), its training images, the validation frames'
    folder and file names, and the COCO file that labels them."""

    data_yaml: Path
    train_images: int
    val_images: Path
    val_names: tuple[str, ...]
    val_coco: Path


def read_data_yaml(path: Path) -> dict[str, Any]:
    """The dataset YAML as a mapping with ``train`` and ``val`` (one-line error otherwise)."""
    if not path.is_file():
        raise input_error(path, "dataset YAML not found")
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise input_error(path, f"cannot read the dataset YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise input_error(path, "a dataset YAML must be a mapping with 'train' and 'val'")
    for key in ("train", "val"):
        if not data.get(key):
            raise input_error(path, "missing key", key)
    return data


def dataset_root(path: Path, data: dict[str, Any]) -> Path:
    """The folder the YAML's ``train``/``val`` entries are relative to."""
    root = Path(str(data.get("path") or "."))
    return root if root.is_absolute() else (path.parent / root).absolute()


def _entries(value: Any, path: Path, key: str) -> list[str]:
    """A ``train``/``val`` entry as a list of strings."""
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(v, str) and v for v in items):
        raise input_error(path, "must be a folder, a .txt list of images, or a list of them", key)
    return items


def _listed_images(listing: Path) -> list[Path]:
    """The existing image files a ``.txt`` list names."""
    out = []
    for line in listing.read_text().splitlines():
        name = line.strip()
        if not name:
            continue
        p = listing.parent / name[2:] if name.startswith("./") else Path(name)
        if is_image_file(p) and p.is_file():
            out.append(p)
    return out


def count_images(path: Path, data: dict[str, Any], key: str = "train") -> int:
    """How many image files the YAML's ``key`` entry holds (folders searched recursively)."""
    root = dataset_root(path, data)
    total = 0
    for entry in _entries(data[key], path, key):
        p = Path(entry) if Path(entry).is_absolute() else root / entry
        if p.is_dir():
            total += sum(1 for q in p.rglob("*") if q.is_file() and is_image_file(q))
        elif p.suffix == ".txt" and p.is_file():
            total += len(_listed_images(p))
        else:
            raise input_error(path, f"{p} is neither a folder nor a .txt list of images", key)
    return total


def val_folder(path: Path, data: dict[str, Any]) -> Path:
    """The YAML's ``val`` entry as a folder of frames."""
    entries = _entries(data["val"], path, "val")
    p = Path(entries[0]) if Path(entries[0]).is_absolute() else dataset_root(path, data) / entries[0]
    if len(entries) != 1 or not p.is_dir():
        raise input_error(path, "must be one folder of whole validation frames (or give --val-images)", "val")
    return p


def frame_names(folder: Path) -> tuple[str, ...]:
    """The image file names directly in ``folder``, sorted."""
    if not folder.is_dir():
        raise input_error(folder, "validation frames folder not found")
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_file() and is_image_file(p)))


def check_val_coco(coco_path: Path, names: tuple[str, ...]) -> None:
    """The COCO file must be labels (``images`` and ``annotations``) that include every validation frame."""
    index = check_coco(load_json(coco_path), coco_path)
    labelled = {Path(im.file_name).name for im in index.images.values()}
    missing = [n for n in names if n not in labelled]
    if missing:
        raise input_error(
            coco_path, f"validation frame {missing[0]} is not among its images ({len(missing)} of {len(names)} missing)",
            "images",
        )  # fmt: skip


def check_finetune_data(data_yaml: Path, val_coco: Path, val_images: Path | None = None) -> FinetuneData:
    """Check the dataset YAML, its training images, the validation frames and their labels (module docstring)."""
    path = Path(data_yaml).absolute()
    data = read_data_yaml(path)
    n_train = count_images(path, data, "train")
    if n_train == 0:
        raise input_error(path, "no training images found", "train")
    folder = Path(val_images).absolute() if val_images is not None else val_folder(path, data)
    names = frame_names(folder)
    if not names:
        raise input_error(folder, "no validation frames (image files) in the folder")
    check_val_coco(Path(val_coco), names)
    return FinetuneData(path, n_train, folder, names, Path(val_coco).absolute())
