"""The resume journal of a predict run and the run folder's files assembled from it.

* ``run_config.json`` (:data:`RUN_CONFIG`): the settings that decide the predictions; ``--resume`` refuses to
  continue a run with different ones (:func:`prepare_out_dir`).
* ``journal.jsonl`` (:data:`JOURNAL`): one flushed, fsync'ed JSON line per finished frame (its predictions,
  particle rows, timings in s and the sha256 of the frame's bytes). A frame counts as done only when its bytes
  still have that hash (:func:`frame_done`); a line torn by a kill is cut off when the journal is reopened.
* ``submission.json`` and ``particles.parquet`` are written from the journal only at the end, in source order,
  with atomic writes (:func:`assemble`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from flocshape.errors import input_error
from flocshape.fsio import atomic_write_json
from flocshape.infer.frames import frame_digest
from flocshape.infer.settings import PredictOptions
from flocshape.infer.video import VideoFrame, write_images_json
from flocshape.shape.measure import concat_tables

JOURNAL = "journal.jsonl"
RUN_CONFIG = "run_config.json"


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


def prepare_out_dir(out: Path, settings: dict[str, Any], resume: bool) -> None:
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


def frame_done(record: dict[str, Any] | None, src: Path) -> bool:
    """Is ``src`` finished according to its journal ``record``: predicted (status ok) from the same bytes
    (sha256)? A record without a hash (an older journal) or of changed bytes is predicted again."""
    return bool(record) and record.get("status") == "ok" and record.get("sha256") == frame_digest(src)


def assemble(
    out: Path, journal: Journal, sources: list[Path], um_per_px: float | None = None
) -> tuple[int, str]:
    """Write ``submission.json`` and ``particles.parquet`` from the journal, in source order (atomic writes);
    returns the number of predictions and the table's path.

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
