"""Every stage that lists frames uses one suffix list (flocshape.fsio.IMAGE_SUFFIXES)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flocshape.fsio import IMAGE_SUFFIXES, is_image_file
from flocshape.infer.run import find_sources


@pytest.mark.parametrize("name", ["a.jpg", "b.JPG", "c.jpeg", "d.png", "e.tif", "f.TIFF", "g.bmp", "h.webp"])
def test_frame_suffixes_are_recognised_in_any_case(name: str) -> None:
    assert is_image_file(Path(name))


@pytest.mark.parametrize("name", ["a.json", "b.txt", "c.parquet", "jpg", "d.jpg.tmp"])
def test_other_files_are_not_frames(name: str) -> None:
    assert not is_image_file(Path(name))


def test_prediction_sources_use_the_shared_list(tmp_path: Path) -> None:
    for i, suffix in enumerate(IMAGE_SUFFIXES):
        (tmp_path / f"f{i}{suffix.upper() if i % 2 else suffix}").write_bytes(b"")
    (tmp_path / "labels.json").write_text("{}")
    (tmp_path / "sub").mkdir()
    found = find_sources(str(tmp_path))
    assert len(found) == len(IMAGE_SUFFIXES)
    assert all(is_image_file(p) for p in found)
