#!/usr/bin/env bash
# The GPU check and study, one go (~9 minutes on one H200 + 16 CPU cores). From the repo root on the GPU machine:
#   bash benchmarks/gpu_check.sh        # results under $OUT (if set) else runs/gpu/out
# Env: TRAIN_H (training budget per run, hours; default 0.05 = 3 min), PY (default python3), DEVICE (default 0),
#      SMOKE_ONLY=1 (stop after the smoke test), FRAMES (hackathon-preset frames; default: the preset's 870),
#      BATCH_FRAMES (frames per metrology batch, default 100), SWEEP_TIMEOUT (s, default 390), SKIP_WHEELS=1,
#      BUDGET_S (default 560: everything stops in time to pack results within 600 s), RUNS (comma list of study
#      runs, default all four; RUNS=y11s-1280 is the short GPU check: trains, scores, returns weights and metrics),
#      SYNTH_ARGS (extra generator knobs for the study data, e.g. "--elongation 0.2 --elongation-max 0.9" for
#      shape-diverse training data; the metrology batch pair is generated with its own fixed knobs).
# Steps: (0) wheels from .whl/ if present (the GPU image has no ultralytics/pycocotools/shapely/polars),
# (1) smoke: a 1-epoch toy training + predict on the GPU (fail fast), meanwhile synthesise hackathon-preset data
# (seed 0, the same generator settings as the CPU reference), (2) convert: coco2yolo whole frames and 640 tiles
# (same block split), Ultralytics convert_coco for the vanilla baseline, (3) train/sweep.py on
# train/studies/gpu-h200.yaml: 4 runs train at once for TRAIN_H hours, then tune on validation, score the test
# split, (4) benchmarks/metrology_e2e.py on the 1280 run (distributions + known batch shift), (5) pack results:
# summary.txt, results.tgz (small files), particles.tgz and the test submission of the 1280 run, its best.pt in
# 15 MB parts (cat best.pt.part-* > best.pt). Measured 2026-11-30 (H200): set-up 85 s, study 4.4 min of training +
# ~2 min of tuning/scoring, metrology ~2 min: the default BUDGET_S stops the metrology in time.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-python3}"
DEVICE="${DEVICE:-0}"
TRAIN_H="${TRAIN_H:-0.05}"
OUTDIR="$(realpath -m "${OUT:-runs/gpu/out}")"
mkdir -p "$OUTDIR" runs/gpu
SUMMARY="$OUTDIR/summary.txt"
T_START=$(date +%s)
DEADLINE=$(( T_START + ${BUDGET_S:-560} ))  # pack before the caller's limit (device calls: 600 s)
left() { echo $(( DEADLINE - $(date +%s) )); }
log() { echo "[gpu_check +$(( $(date +%s) - T_START ))s] $*" | tee -a "$SUMMARY"; }
pack() {
  log "packing results"
  # small files only (the call returns files of <= 16 MB): logs, JSON/CSV/YAML/markdown of every run (not the
  # submissions), the 1280 run's particle tables; its test submission and weights travel as separate files
  (cd runs/gpu && find . \( -name '*.log' -o -name '*.md' -o -name '*.csv' -o -name '*.yaml' -o -name '*.txt' \
     -o -name 'manifest.json' -o -name '*score*.json' -o -name 'row.json' -o -name 'postproc.json' -o -name 'refine.json' \
     -o -name 'train_time.json' -o -name 'results.json' \) -not -path './data/*' -not -path './yolo*' \
     -not -path './vanilla/*' -not -path '*/labels/*' -print0 | tar czf "$OUTDIR/results.tgz" --null -T -)
  local run=runs/gpu/study/y11s-1280
  [ -f $run/test_pred/submission.json ] && cp $run/test_pred/submission.json "$OUTDIR/y11s-1280_test_submission.json"
  [ -f $run/test_pred_refined/submission.json ] && cp $run/test_pred_refined/submission.json "$OUTDIR/y11s-1280_test_submission_refined.json"
  find $run -name particles.parquet -print0 | tar czf "$OUTDIR/particles.tgz" --null -T - 2>/dev/null
  if [ -f $run/train/weights/best.pt ]; then
    split -b 15m -d $run/train/weights/best.pt "$OUTDIR/best.pt.part-"
    sha256sum $run/train/weights/best.pt | tee -a "$SUMMARY"
  fi
}
trap pack EXIT

if [ -d .whl ] && [ "${SKIP_WHEELS:-0}" != 1 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { log "wheel install failed"; exit 1; }
  export PYTHONPATH="/tmp/site:$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONUNBUFFERED=1
"$PY" - <<'PYEOF' 2>&1 | tee -a "$SUMMARY"
import os, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", "cpus", os.cpu_count())
PYEOF
NCPU=$(nproc)

# (1) smoke test on the GPU while the data is generated
log "smoke test + data synthesis ${SYNTH_ARGS:+(extra generator knobs: $SYNTH_ARGS)}"
( "$PY" datasets/synthesize.py --out runs/gpu/data --preset hackathon --seed 0 --workers "$NCPU" \
    ${FRAMES:+--frames $FRAMES} ${SYNTH_ARGS:-} > runs/gpu/synth.log 2>&1; echo $? > runs/gpu/synth.rc ) &
SYNTH_PID=$!
"$PY" - "$DEVICE" <<'PYEOF' > runs/gpu/smoke.log 2>&1
import subprocess, sys
from pathlib import Path
from flocshape.testing import make_toy_dataset
dev = sys.argv[1]
yaml_path = make_toy_dataset("runs/gpu/toy", n_train=8, n_val=2, height=256, width=320)
subprocess.run([sys.executable, "train/train.py", "--data", str(yaml_path), "--recipe", "gpu-1280", "--project",
                "runs/gpu/toy_train", "--name", "smoke", "exist_ok=True", "model=yolo11n-seg.yaml", "epochs=1",
                "imgsz=320", "batch=4", "workers=2", "cache=False", f"device={dev}", "plots=False"], check=True)
subprocess.run([sys.executable, "infer/predict.py", "--model", "runs/gpu/toy_train/smoke/weights/best.pt",
                "--source", "runs/gpu/toy/images/val", "--out", "runs/gpu/toy_pred", "--imgsz", "320",
                "--device", dev], check=True)
print("SMOKE OK")
PYEOF
if ! grep -q "SMOKE OK" runs/gpu/smoke.log; then
  log "smoke test FAILED"; tail -n 40 runs/gpu/smoke.log | tee -a "$SUMMARY"; kill $SYNTH_PID 2>/dev/null; exit 1
fi
log "smoke test ok"
[ "${SMOKE_ONLY:-0}" = 1 ] && exit 0
wait $SYNTH_PID
if [ "$(cat runs/gpu/synth.rc)" != 0 ]; then log "synthesis FAILED"; tail -n 20 runs/gpu/synth.log | tee -a "$SUMMARY"; exit 1; fi
sha256sum runs/gpu/data/label_train.json runs/gpu/data/truth/label_test_gt.json | tee -a "$SUMMARY"

# (2) conversions (same block split for all three)
log "converting"
"$PY" convert/coco2yolo.py --json runs/gpu/data/label_train.json --images runs/gpu/data/train --out runs/gpu/yolo \
  --group-size 10 --val-frac 0.15 --seed 0 --hardlink --workers 8 > runs/gpu/convert.log 2>&1 &
"$PY" convert/coco2yolo.py --json runs/gpu/data/label_train.json --images runs/gpu/data/train \
  --out runs/gpu/yolo_tiles --group-size 10 --val-frac 0.15 --seed 0 --tile 640 --overlap 0.2 --workers 6 \
  > runs/gpu/convert_tiles.log 2>&1 &
wait
"$PY" benchmarks/vanilla_baseline.py convert --json "runs/gpu/data/label(polygon)_train.json" \
  --images runs/gpu/data/train --split-from runs/gpu/yolo --out runs/gpu/vanilla > runs/gpu/convert_vanilla.log 2>&1 \
  || { log "vanilla convert FAILED"; tail -n 20 runs/gpu/convert_vanilla.log | tee -a "$SUMMARY"; }
for d in yolo yolo_tiles vanilla; do
  log "$d: train $(ls runs/gpu/$d/images/train 2>/dev/null | wc -l) / val $(ls runs/gpu/$d/images/val 2>/dev/null | wc -l) images"
done

# (3) the study: 4 runs at once
log "study: training 4 runs for $TRAIN_H h each, then tuning and scoring"
sed "s/device: 0/device: $DEVICE/g" train/studies/gpu-h200.yaml > runs/gpu/study.yaml
"$PY" - "$TRAIN_H" <<'PYEOF'
import sys, yaml
p = "runs/gpu/study.yaml"
s = yaml.safe_load(open(p))
s["defaults"]["train"]["time"] = float(sys.argv[1])
for r in s["runs"]:
    if r.get("kind") == "vanilla":
        r["train"]["time"] = float(sys.argv[1])
yaml.safe_dump(s, open(p, "w"), sort_keys=False)
PYEOF
ST=$(left); ST=$(( ST - 60 < ${SWEEP_TIMEOUT:-390} ? ST - 60 : ${SWEEP_TIMEOUT:-390} ))
timeout "$ST" "$PY" train/sweep.py runs/gpu/study.yaml --out runs/gpu/study --parallel 4 ${RUNS:+--only $RUNS} 2>&1 | tee -a "$SUMMARY"
log "study done"

# (4) metrology on the 1280 run (reuses its validation/test predictions and tuned post-processing)
if [ -f runs/gpu/study/y11s-1280/tune/postproc.json ] && [ "$(left)" -gt 30 ]; then
  log "metrology end to end (1280 run)"
  timeout "$(( $(left) - 15 ))" "$PY" benchmarks/metrology_e2e.py --model runs/gpu/study/y11s-1280/train/weights/best.pt \
    --data runs/gpu/data --yolo runs/gpu/yolo --work runs/gpu/study/y11s-1280 --imgsz 1280 --device "$DEVICE" \
    --batch-frames "${BATCH_FRAMES:-100}" \
    2>&1 | tail -n 40 | tee -a "$SUMMARY"
fi
log "done"
