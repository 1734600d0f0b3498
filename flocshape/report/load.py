"""Reading run folders for the report: particle table, submission, manifest, and the source images.

A run folder (from ``infer/predict.py``) holds ``particles.parquet`` (contract 1, required),
``submission.json`` (contract 2, optional: needed only for outlines on sample frames) and ``manifest.json``
(optional: ``args.source`` names the images, ``frames`` may list ``{file, image_id, ...}``) and
``journal.jsonl`` (optional: one line per predicted frame, ``{file_name, image_id, status}``; used as the
frame list when the manifest has none, so frames without any particle are counted). A folder with only
``particles.parquet`` (e.g. ground truth measured by ``measure_coco``) is a valid input too.
Inputs are only read, never modified.
"""

from __future__ import annotations

import glob
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from flocshape.errors import input_error
from flocshape.fsio import is_image_file
from flocshape.records import check_results, load_json, prediction_where, warn_repeated_predictions

REQUIRED_COLUMNS = ("image_id", "area_px", "ecd_px", "touches_border")
JOURNAL = "journal.jsonl"  # infer/predict.py's per-frame log: one JSON line per frame


@dataclass
class RunData:
    """Everything the report needs from one run folder.

    ``frame_files`` maps COCO ``image_id`` to the image file (``None`` where it could not be found);
    ``frame_ids`` lists every frame of the run (frames with no particle included when the manifest has a
    frame list); ``notes`` are reader-facing remarks about missing inputs.
    """

    path: Path
    label: str
    particles: pd.DataFrame
    submission: list[dict[str, Any]] | None
    manifest: dict[str, Any] | None
    frame_ids: list[int]
    frame_files: dict[int, Path | None]
    frame_names: dict[int, str]
    notes: list[str] = field(default_factory=list)

    @property
    def has_outlines(self) -> bool:
        """True when the run has a submission with masks to draw."""
        return bool(self.submission)


def read_particles(path: Path) -> pd.DataFrame:
    """Read a contract-(1) particle table; one-line ``InputError`` if missing, unreadable or incomplete."""
    if not path.is_file():
        raise input_error(path, "missing: a run folder needs particles.parquet (written by infer/predict.py)")
    try:
        table = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several exception types for corrupt files
        raise input_error(path, f"not a readable parquet file ({type(exc).__name__}: {exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
    if missing:
        raise input_error(path, f"missing columns {missing} (particle table contract 1)")
    bad = pd.to_numeric(table["image_id"], errors="coerce").isna()
    if bad.any():
        raise input_error(path, "image_id is not an integer", f"row {int(bad.to_numpy().argmax())}")
    table = table.copy()
    table["image_id"] = table["image_id"].astype(int)
    table["touches_border"] = table["touches_border"].astype(bool)
    table["too_small"] = table["too_small"].astype(bool) if "too_small" in table.columns else False
    table["low_score"] = table["low_score"].astype(bool) if "low_score" in table.columns else False
    return table


def read_submission(path: Path) -> list[dict[str, Any]] | None:
    """Read a contract-(2) submission list, or ``None`` when the file does not exist.

    Records are validated by :mod:`flocshape.records` (the rules every stage shares) and each
    ``segmentation`` must be a compressed RLE with ``size`` and ``counts`` (outlines are drawn from it);
    otherwise a one-line ``InputError`` names the record.
    """
    if not path.is_file():
        return None
    records = load_json(path)
    check_results(records, path)
    warn_repeated_predictions(records, path)
    for i, rec in enumerate(records):
        seg = rec["segmentation"]
        if not (isinstance(seg, dict) and "size" in seg and "counts" in seg):
            raise input_error(
                path, "segmentation is not a compressed RLE {size, counts}", prediction_where(i, rec)
            )
    return records


def read_manifest(path: Path) -> dict[str, Any] | None:
    """Read ``manifest.json`` or return ``None`` when absent; a corrupt one is a one-line ``InputError``."""
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise input_error(path, f"not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise input_error(path, "expected a JSON object")
    return manifest


def source_candidates(source: str, run_dir: Path) -> list[Path]:
    """Image files named by ``manifest.args.source``: a folder, a glob or one file.

    A relative source is tried against the current folder, then against the run folder and its parents.
    """
    bases = [Path.cwd(), run_dir, *run_dir.resolve().parents]
    for base in bases:
        pattern = str(Path(source) if Path(source).is_absolute() else base / source)
        p = Path(pattern)
        if p.is_dir():
            return sorted(q for q in p.iterdir() if is_image_file(q))
        if p.is_file():
            return [p]
        hits = sorted(Path(h) for h in glob.glob(pattern, recursive=True))
        if hits:
            return [h for h in hits if is_image_file(h)]
    return []


def manifest_frames(manifest: dict[str, Any] | None) -> dict[int, str]:
    """``image_id -> file`` from a manifest ``frames`` list of ``{file, image_id, ...}`` (empty if absent)."""
    frames = (manifest or {}).get("frames")
    out: dict[int, str] = {}
    if isinstance(frames, list):
        for rec in frames:
            if isinstance(rec, dict) and rec.get("image_id") is not None and rec.get("file") is not None:
                out[int(rec["image_id"])] = str(rec["file"])
    return out


def journal_frames(path: Path) -> dict[int, str]:
    """``image_id -> file_name`` of the frames predicted successfully, from ``infer/predict.py``'s journal.jsonl.

    Every ``status == "ok"`` line counts, also frames without any prediction. Empty when the file is absent;
    a line that is not JSON is a one-line ``InputError``.
    """
    out: dict[int, str] = {}
    if not path.is_file():
        return out
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise input_error(path, f"not valid JSON ({exc.msg})", f"line {line_no}") from exc
            if isinstance(rec, dict) and rec.get("status") == "ok" and rec.get("image_id") is not None:
                out[int(rec["image_id"])] = str(rec.get("file_name") or "")
    return out


def frame_table(particles: pd.DataFrame, listed: dict[int, str]) -> dict[int, str]:
    """``image_id -> file name`` of every frame: the listed frames (manifest or journal), then the particle table."""
    names = dict(listed)
    if "file_name" in particles.columns:
        for image_id, name in particles.groupby("image_id")["file_name"].first().items():
            if not names.get(int(image_id)):
                names[int(image_id)] = str(name)
    for image_id in particles["image_id"].unique():
        names.setdefault(int(image_id), "")
    return dict(sorted(names.items()))


def resolve_frames(
    names: dict[int, str], candidates: list[Path], images_dir: Path | None
) -> dict[int, Path | None]:
    """Find each frame's image: by its exact path, in ``images_dir``, or by name among ``candidates``."""
    by_name = {p.name: p for p in candidates}
    by_stem = {p.stem: p for p in candidates}
    out: dict[int, Path | None] = {}
    for image_id, name in names.items():
        found: Path | None = None
        if name and Path(name).is_absolute() and Path(name).is_file():
            found = Path(name)
        elif name and images_dir is not None and (images_dir / Path(name).name).is_file():
            found = images_dir / Path(name).name
        elif name:
            found = by_name.get(Path(name).name)
        if found is None and not name:
            found = by_stem.get(str(image_id))
        out[image_id] = found
    return out


def load_run(run_dir: str | Path, images_dir: str | Path | None = None, label: str | None = None) -> RunData:
    """Load one run folder (see module docstring). ``images_dir`` overrides ``manifest.args.source``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise input_error(run_dir, "not a folder (expected a run folder with particles.parquet)")
    particles = read_particles(run_dir / "particles.parquet")
    submission = read_submission(run_dir / "submission.json")
    manifest = read_manifest(run_dir / "manifest.json")
    notes: list[str] = []
    if images_dir is not None and not Path(images_dir).is_dir():
        raise input_error(images_dir, "--images is not a folder")
    source = ((manifest or {}).get("args") or {}).get("source")
    candidates = source_candidates(str(source), run_dir) if source and images_dir is None else []
    if images_dir is not None:
        candidates = source_candidates(str(images_dir), run_dir)
    listed = manifest_frames(manifest) or journal_frames(run_dir / JOURNAL)
    names = frame_table(particles, listed)
    files = resolve_frames(names, candidates, Path(images_dir) if images_dir is not None else None)
    if not listed:
        notes.append(
            f"no frame list (manifest.json frames or {JOURNAL}): frames without any particle are not counted"
        )
    if submission is None:
        notes.append("no submission.json: sample frames cannot show outlines")
    missing = sum(1 for f in files.values() if f is None)
    if missing and submission is not None:
        where = f"--images {images_dir}" if images_dir is not None else f"manifest source {source!r}"
        notes.append(f"{missing} of {len(files)} frame images not found ({where}); pass --images DIR")
    return RunData(
        path=run_dir,
        label=label or run_dir.resolve().name,
        particles=particles,
        submission=submission,
        manifest=manifest,
        frame_ids=list(names),
        frame_files=files,
        frame_names=names,
        notes=notes,
    )
