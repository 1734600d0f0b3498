#!/usr/bin/env bash
# GPU check, one go, <= ~8 minutes on one modern GPU. Run from the repo root on the GPU machine:
#   bash benchmarks/gpu_check.sh            # results under $OUT (if set) or runs/gpu_check
# Assumes: the repo is present, Python >= 3.11 with pip; no network beyond an already configured package mirror.
# Steps: (1) install the project editable if `import flocshape` fails, (2) make hackathon-preset data with
# datasets/synthesize.py, (3) convert to YOLO (convert/coco2yolo.py), (4) train recipe gpu-1280 briefly
# (EPOCHS, default 3; time-boxed), (5) predict the test split at imgsz 1280 and report images/s, (6) write a summary.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTDIR="${OUT:-runs/gpu_check}"
EPOCHS="${EPOCHS:-3}"
PY="${PY:-python}"
mkdir -p "$OUTDIR"
log() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$OUTDIR/summary.txt"; }

if ! "$PY" -c "import flocshape, ultralytics" 2>/dev/null; then
  log "installing the project (pip install -e .)"
  "$PY" -m pip install -q -e . cloudpickle
fi
"$PY" - <<'PYEOF' | tee -a "$OUTDIR/summary.txt"
import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
                    torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
PYEOF

DATA="$OUTDIR/data"
if [ ! -f "$DATA/label_train.json" ]; then
  log "synthesising hackathon-preset data"
  "$PY" datasets/synthesize.py --out "$DATA" --preset hackathon --seed 0 --workers 8
fi
YOLO_DIR="$OUTDIR/yolo"
if [ ! -f "$YOLO_DIR/data.yaml" ]; then
  log "converting to YOLO-seg"
  "$PY" convert/coco2yolo.py --json "$DATA/label_train.json" --images "$DATA/train" --out "$YOLO_DIR" --group-size 10
fi

log "training gpu-1280 for $EPOCHS epochs"
T0=$(date +%s)
timeout 330 "$PY" train/train.py --data "$YOLO_DIR/data.yaml" --recipe gpu-1280 --name gpu_check \
  --project "$(pwd)/$OUTDIR/train" epochs="$EPOCHS" close_mosaic=1 device=0 2>&1 | tail -n 25 | tee -a "$OUTDIR/summary.txt"
T1=$(date +%s)
log "train wall time: $((T1 - T0)) s"
RUN=$(ls -dt "$OUTDIR"/train/gpu_check* | head -n 1)
cp "$RUN/manifest.json" "$OUTDIR/train_manifest.json" 2>/dev/null || true
cp "$RUN/results.csv" "$OUTDIR/results.csv" 2>/dev/null || true

log "predicting the test split at imgsz 1280"
T0=$(date +%s.%N)
"$PY" infer/predict.py --model "$RUN/weights/best.pt" --source "$DATA/test" --images-json "$DATA/label_test.json" \
  --out "$OUTDIR/predict" --imgsz 1280 --device 0 | tee -a "$OUTDIR/summary.txt" || true
T1=$(date +%s.%N)
"$PY" - "$OUTDIR" "$T0" "$T1" <<'PYEOF' | tee -a "$OUTDIR/summary.txt"
import json, sys
from pathlib import Path
out, t0, t1 = Path(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
m = json.loads((out / "predict" / "manifest.json").read_text())
n = m["frames"]["ok"]
t = m["timings_s"]
print(f"predict: {n} frames, wall {t1 - t0:.1f} s incl. start-up, {n / max(sum(t.values()), 1e-9):.2f} images/s (frame loop)")
print("per-frame ms:", {k: round(1000 * v / max(n, 1), 1) for k, v in t.items()})
tm = json.loads((out / "train_manifest.json").read_text()) if (out / "train_manifest.json").exists() else {}
print("validation (Ultralytics, last epoch):", {k: round(v, 4) for k, v in tm.get("metrics", {}).items()})
print("validator max_det:", (tm.get("validator_settings") or {}).get("max_det"))
PYEOF
log "done; summary in $OUTDIR/summary.txt"
