"""Multi-GPU pass-through: the DDP temp script Ultralytics generates rebuilds *our* trainer, offline-safe, in a
fresh process (the spawned workers' situation). Runs on CPU: the script is executed up to ``trainer.train()``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flocshape.testing import make_toy_dataset


@pytest.fixture(scope="module")
def ddp_script(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    pytest.importorskip(
        "cloudpickle", reason="Ultralytics' DDP launcher needs cloudpickle (pip install cloudpickle)"
    )
    from flocshape import offline

    offline.setup()
    from ultralytics.utils.dist import generate_ddp_file

    from flocshape.train.trainer import FlocSegmentationTrainer

    root = tmp_path_factory.mktemp("ddp")
    data = make_toy_dataset(root / "ds", n_train=2, n_val=1)
    overrides = {
        "model": "yolov8n-seg.yaml",
        "data": str(data),
        "device": "cpu",
        "project": str(root / "runs"),
        "name": "ddp",
        "max_det": 1234,
        "epochs": 1,
        "imgsz": 64,
        "amp": True,
    }
    trainer = FlocSegmentationTrainer(overrides=overrides)
    script = generate_ddp_file(trainer)
    try:
        source = Path(script).read_text()
        state_file = str(Path(script).with_suffix(".pt"))
        probe = root / "probe.py"
        # the generated script, with the final trainer.train() replaced by checks of the rebuilt trainer
        assert source.rstrip().endswith("trainer.train()")
        checks = textwrap.dedent(
            """
            import ultralytics.engine.trainer as ut
            print("TRAINER", type(trainer).__module__, type(trainer).__name__)
            print("MAX_DET", trainer.args.max_det)
            print("AMP_CHECK", ut.check_amp.__module__)
            print("OFFLINE", __import__("os").environ.get("YOLO_OFFLINE"))
            print("CALLBACK", any(f.__name__ == "record_validator_settings" for f in trainer.callbacks["on_val_start"]))
            """
        )
        body = source.rstrip()[: -len("trainer.train()")] + textwrap.indent(checks, "    ")
        probe.write_text(body)
        # env vars (YOLO_OFFLINE, YOLO_CONFIG_DIR) are inherited as torch.distributed.run would pass them
        proc = subprocess.run(
            [sys.executable, str(probe)], capture_output=True, text=True, timeout=300, cwd=root
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        yield source, proc.stdout
    finally:
        Path(script).unlink(missing_ok=True)
        Path(state_file).unlink(missing_ok=True)


def test_ddp_worker_rebuilds_our_trainer_with_args(ddp_script: tuple[str, str]) -> None:
    _, out = ddp_script
    assert "TRAINER flocshape.train.trainer FlocSegmentationTrainer" in out
    assert "MAX_DET 1234" in out
    assert "CALLBACK True" in out


def test_ddp_worker_is_offline_and_amp_check_does_not_download(ddp_script: tuple[str, str]) -> None:
    _, out = ddp_script
    # env vars are inherited, in-process patches are not: our trainer's __init__ re-applied the AMP patch
    assert "OFFLINE 1" in out
    assert "AMP_CHECK flocshape.offline" in out
