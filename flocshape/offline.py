"""Offline-safe Ultralytics, in one place. Import this module before ``ultralytics``.

What :func:`setup` does, and why (see the project notes on what Ultralytics touches on the network):

* ``YOLO_OFFLINE=1``: ``ONLINE`` is False, so no PyPI version check, no telemetry, no run-time installs.
* ``YOLO_AUTOINSTALL=false``: never ``pip install`` at run time.
* a private ``YOLO_CONFIG_DIR`` (default ``<repo>/.ultralytics``, git-ignored) so nothing is written to
  ``~/.config`` and settings are the project's own;
* a TTF font at ``$YOLO_CONFIG_DIR/Ultralytics/Arial.ttf`` (matplotlib's DejaVuSans): without it
  Ultralytics sends a HEAD request to GitHub on every train/val, even when offline;
* settings ``sync=False`` and the third-party loggers off;
* both CPU threads: Ultralytics defaults to ``cpu_count - 1`` = 1 thread on a 2-core machine;
* on CUDA, the AMP check (which downloads ``yolo26n.pt``) is replaced by a no-download answer.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
_DONE = False


def config_dir() -> Path:
    """The private Ultralytics config folder (``$YOLO_CONFIG_DIR`` if set, else ``<repo>/.ultralytics``)."""
    return Path(os.environ.get("YOLO_CONFIG_DIR") or REPO_ROOT / ".ultralytics")


def _install_font(cfg: Path) -> None:
    target = cfg / "Ultralytics" / "Arial.ttf"
    if target.exists():
        return
    import matplotlib

    src = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, target)


def setup(threads: int | None = None) -> Path:
    """Make Ultralytics offline-safe; idempotent. Returns the config folder.

    ``threads``: torch CPU threads to use (default: all cores).
    """
    global _DONE
    cfg = config_dir()
    if not _DONE:
        os.environ["YOLO_OFFLINE"] = "1"
        os.environ["YOLO_AUTOINSTALL"] = "false"
        os.environ["YOLO_CONFIG_DIR"] = str(cfg)
        os.environ.setdefault("OMP_NUM_THREADS", str(threads or os.cpu_count() or 1))
        (cfg / "Ultralytics").mkdir(parents=True, exist_ok=True)
        _install_font(cfg)
    n = int(threads or os.cpu_count() or 1)

    import ultralytics.utils as uu
    import ultralytics.utils.torch_utils as tu
    from ultralytics import settings

    if not _DONE:
        wanted = {
            "sync": False,
            "clearml": False,
            "comet": False,
            "dvc": False,
            "mlflow": False,
            "raytune": False,
            "wandb": False,
            "tensorboard": False,
            "neptune": False,
        }
        changes = {k: v for k, v in wanted.items() if k in settings and settings[k] != v}
        if changes:
            settings.update(changes)
        uu.ONLINE = False
        _patch_amp_check()
    tu.NUM_THREADS = n
    uu.NUM_THREADS = n
    _DONE = True
    return cfg


def _patch_amp_check() -> None:
    """Replace the AMP check (which loads/downloads ``yolo26n.pt`` on CUDA) with a local decision.

    AMP stays on for CUDA devices (the check exists to catch broken AMP on old GPUs, which we do not
    support), off elsewhere; nothing is downloaded.
    """
    import ultralytics.engine.trainer as trainer
    import ultralytics.utils.checks as checks

    def check_amp(model) -> bool:  # noqa: ANN001 - Ultralytics' signature
        device = next(model.parameters()).device
        return device.type == "cuda"

    checks.check_amp = check_amp
    trainer.check_amp = check_amp
