"""Video sources for ``infer/predict.py``: probing, frame sampling and streaming, one frame at a time.

Conventions (docs/predict.md, "Video input"):

* A video is a ``.mp4``, ``.avi`` or ``.mov`` file read by OpenCV (``cv2.VideoCapture``). ``--source`` is one video,
  a folder of videos (not searched recursively) or a quoted glob; videos are taken in file-name order.
* **Frame index** = the 0-based position of a frame in decoding order. **Timestamp** ``time_s = index / fps``
  (seconds), with ``fps`` the container's frame rate; the first frame is at 0 s.
* **Sampling**: ``--every N`` (integer >= 1) keeps indices 0, N, 2N, ...; ``--fps F`` (finite, > 0, at most the
  video's fps) keeps, for k = 0, 1, ..., the frame nearest to the time k / F: index ``floor(k * fps / F + 0.5)``,
  while it is a frame of the video. Neither: every frame. The two are mutually exclusive.
* **File name** of a video frame: ``{video stem}_{index:06d}.jpg`` (``clip.mp4`` frame 123 -> ``clip_000123.jpg``);
  the ``.jpg`` is only a name (no such file is written, except an overlay of that name with ``--save-overlays``).
  Image ids are 1, 2, ... in the run's frame order (videos by name, then by index).
* **Probe** (before the model is loaded): the file must open, report a finite fps > 0 and hold at least one
  frame, and every frame the container announces must be decodable (a file cut short is refused); the frames are
  counted by decoding them once (``grab``), so that sampling, ids and the journal are fixed before anything is
  written. The video's sha256 is computed once; the journal records it with each frame, so ``--resume`` predicts
  the frames of a changed video again.
* Memory: one capture is open at a time and one decoded frame is held (frames are read in increasing index
  order; a backwards request reopens the capture).
"""

from __future__ import annotations

import glob
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from flocshape.errors import input_error
from flocshape.manifest import file_digest

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov")


def is_video_file(path: Path) -> bool:
    """A ``.mp4`` / ``.avi`` / ``.mov`` file (by suffix, case-insensitive)."""
    return path.suffix.lower() in VIDEO_SUFFIXES and path.is_file()


def find_videos(source: str) -> list[Path]:
    """The video files named by ``source`` (a video, a folder of them or a glob), sorted by name; ``[]`` if none."""
    p = Path(source)
    if p.is_file():
        return [p] if is_video_file(p) else []
    if p.is_dir():
        files = [q for q in p.iterdir() if is_video_file(q)]
    else:
        files = [Path(q) for q in glob.glob(source) if is_video_file(Path(q))]
    return sorted(files, key=lambda q: (q.name, str(q)))


@dataclass(frozen=True)
class VideoInfo:
    """A probed video: ``fps`` (frames per second, from the container), ``frames`` (decodable frames),
    ``width`` / ``height`` (px) and the sha256 of the file's bytes."""

    path: Path
    sha256: str
    fps: float
    frames: int
    width: int
    height: int

    def describe(self) -> dict[str, Any]:
        """Manifest entry (path, sha256, fps, frame count, size)."""
        return {"path": str(self.path.absolute()), "sha256": self.sha256, "fps": self.fps, "frames": self.frames,
                "width": self.width, "height": self.height}  # fmt: skip


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame of a video: ``index`` (0-based, decoding order) and ``time_s = index / fps`` (s).

    Quacks like a frame's ``Path`` where predict needs one: ``name`` (the frame's file name), ``stem``, ``str()``.
    """

    video: VideoInfo
    index: int

    @property
    def time_s(self) -> float:
        """Seconds from the first frame: ``index / fps``."""
        return self.index / self.video.fps

    @property
    def name(self) -> str:
        """The frame's file name, ``{video stem}_{index:06d}.jpg``."""
        return f"{self.video.path.stem}_{self.index:06d}.jpg"

    @property
    def stem(self) -> str:
        """The file name without ``.jpg``."""
        return self.name[: -len(".jpg")]

    def __str__(self) -> str:
        return f"{self.video.path}#{self.index}"


def probe_video(path: Path) -> VideoInfo:
    """Open, check and count a video (see the module docstring); one-line input error if it is unusable."""
    if not path.is_file() or path.stat().st_size == 0:
        raise input_error(path, "cannot open video (missing or empty file)")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise input_error(
                path, "cannot open video (not a video OpenCV can read, or the file is cut short)"
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        announced = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if not (math.isfinite(fps) and fps > 0):
            raise input_error(path, f"the video has no valid frame rate (fps {fps})")
        frames = 0
        while cap.grab():
            frames += 1
    finally:
        cap.release()
    if frames == 0:
        raise input_error(path, "the video has no frames")
    if announced > frames:
        raise input_error(
            path,
            f"only {frames} of the {announced} frames the video announces can be decoded (file cut short?)",
        )
    return VideoInfo(path=path, sha256=file_digest(path), fps=fps, frames=frames, width=width, height=height)


def sample_indices(
    frames: int, fps: float, every: int | None = None, target_fps: float | None = None
) -> list[int]:
    """The frame indices kept by ``--every N`` or ``--fps F`` (see the module docstring); all without either."""
    if every is not None and target_fps is not None:
        raise ValueError("--every and --fps are mutually exclusive")
    if target_fps is None:
        return list(range(0, frames, every or 1))
    step = fps / target_fps
    out: list[int] = []
    k = 0
    while (index := math.floor(k * step + 0.5)) < frames:
        out.append(index)
        k += 1
    return out


def video_frames(
    source: str, every: int | None = None, target_fps: float | None = None
) -> tuple[list[VideoFrame], list[VideoInfo]]:
    """The sampled frames of every video of ``source`` and the probed videos; one-line errors for bad input.

    ``--fps`` above a video's own frame rate is refused (it would repeat frames)."""
    videos = [probe_video(p) for p in find_videos(source)]
    frames: list[VideoFrame] = []
    for info in videos:
        if target_fps is not None and target_fps > info.fps + 1e-9:
            raise input_error(
                "command line",
                f"{target_fps:g} is above the frame rate of {info.path} ({info.fps:g} fps)",
                "--fps",
            )
        frames.extend(VideoFrame(info, i) for i in sample_indices(info.frames, info.fps, every, target_fps))
    return frames, videos


def image_record(frame: VideoFrame, image_id: int) -> dict[str, Any]:
    """The COCO ``images`` entry of a video frame, with ``video``, ``frame_index`` and ``time_s`` (s)."""
    info = frame.video
    return {"id": image_id, "file_name": frame.name, "height": info.height, "width": info.width,
            "video": info.path.name, "frame_index": frame.index, "time_s": frame.time_s}  # fmt: skip


def add_video_fields(record: dict[str, Any], particles: list[dict[str, Any]], src: object) -> dict[str, Any]:
    """For a video frame: ``video`` (file name), ``frame_index`` and ``time_s`` on its journal ``record`` and
    ``frame_index`` / ``time_s`` on each of its particle rows (in place); other frames are left as they are."""
    if isinstance(src, VideoFrame):
        record.update(video=src.video.path.name, frame_index=src.index, time_s=src.time_s)
        for row in particles:
            row.update(frame_index=src.index, time_s=src.time_s)
    return record


def write_images_json(out: Path, frames: list[Any]) -> None:
    """``OUT/images.json``: the COCO ``images`` of a video run's frames (ids 1, 2, ...; :func:`image_record`),
    to pass as ``--images-json`` to the stages that read ``submission.json`` (shape, track). Atomic write."""
    from flocshape.fsio import atomic_write_json

    images = [image_record(f, k + 1) for k, f in enumerate(frames)]
    atomic_write_json(out / "images.json", {"images": images})


def video_inputs(frames: list[Any], sampling: dict[str, Any] | None) -> dict[str, Any]:
    """Manifest ``inputs`` entries of a video run: each video (sha256, fps, frame count, size), the sampling and
    the number of sampled frames; ``{}`` for frames from image files."""
    videos: dict[Path, VideoInfo] = {}
    for f in frames:
        if isinstance(f, VideoFrame):
            videos.setdefault(f.video.path, f.video)
    if not videos:
        return {}
    sampled = sum(1 for f in frames if isinstance(f, VideoFrame))
    return {
        "videos": [v.describe() for v in videos.values()],
        "sampling": {**(sampling or {}), "frames": sampled},
    }


class _Stream:
    """The open capture of one video and the index of the next frame it decodes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cap = cv2.VideoCapture(str(path))
        self.next_index = 0

    def read(self, index: int) -> np.ndarray | None:
        if index < self.next_index:  # backwards: start again
            self.cap.release()
            self.cap = cv2.VideoCapture(str(self.path))
            self.next_index = 0
        while self.next_index < index:
            if not self.cap.grab():
                return None
            self.next_index += 1
        ok, image = self.cap.read()
        self.next_index += 1
        return image if ok and image is not None and image.size else None


_stream: _Stream | None = None


def read_video_frame(frame: VideoFrame) -> np.ndarray | None:
    """The frame as ``H x W x 3`` uint8 BGR, or ``None`` when it cannot be decoded (one capture kept open)."""
    global _stream
    if _stream is None or _stream.path != frame.video.path:
        close_streams()
        _stream = _Stream(frame.video.path)
    return _stream.read(frame.index)


def close_streams() -> None:
    """Release the open capture, if any."""
    global _stream
    if _stream is not None:
        _stream.cap.release()
        _stream = None
