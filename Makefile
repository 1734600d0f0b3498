# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
# Each creates .venv (Python >= 3.11) if it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := runs/demo
DEMO_TRAIN := runs/demo-train

.PHONY: demo demo-train test lint format bench clean-demo

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The main job in about a minute (48-59 s on 2 idle cores; the tiled model runs ~1 s per frame) with the shipped model (flocshape/models/, docs/models.md):
# synthesize 20 hackathon-like test frames (1024x1280, seed 1: not the training seed 0) -> predict with the embedded
# default model and its tuned settings -> score against the generated truth -> shapes of the truth -> compare -> report.
# Everything lands in runs/demo/ (rebuilt from scratch each time); open runs/demo/report.html.
demo: $(VENV)/.installed
	rm -rf $(DEMO)
	$(PY) datasets/synthesize.py --out $(DEMO)/data --preset hackathon --frames 30 --test-frac 0.67 --seed 1
	$(PY) infer/predict.py --source $(DEMO)/data/test --images-json $(DEMO)/data/label_test.json \
	    --out $(DEMO)/predict --save-overlays
	$(PY) infer/score.py --gt $(DEMO)/data/truth/label_test_gt.json --pred $(DEMO)/predict/submission.json \
	    --json $(DEMO)/predict/score.json
	$(PY) infer/shape.py --coco $(DEMO)/data/truth/label_test_gt.json --images $(DEMO)/data/test \
	    --out $(DEMO)/truth/particles.parquet
	$(PY) infer/compare.py $(DEMO)/truth $(DEMO)/predict --labels truth predicted --out $(DEMO)/compare
	$(PY) infer/report.py $(DEMO)/truth $(DEMO)/predict --labels truth predicted --images $(DEMO)/data/test \
	    --out $(DEMO)/report.html
	@echo "demo done: open $(DEMO)/report.html (scores: $(DEMO)/predict/score.json, outlines: $(DEMO)/predict/overlays/)"

# The whole chain including training (a few minutes): synthesize (small preset) -> convert -> train a tiny model
# (cpu-small recipe) -> predict -> score -> shapes -> compare -> report, in runs/demo-train/.
demo-train: $(VENV)/.installed
	rm -rf $(DEMO_TRAIN)
	$(PY) datasets/synthesize.py --out $(DEMO_TRAIN)/data --preset small --frames 60 --seed 0
	$(PY) convert/coco2yolo.py --json $(DEMO_TRAIN)/data/label_train.json --images $(DEMO_TRAIN)/data/train \
	    --out $(DEMO_TRAIN)/yolo --group-size 10 --val-frac 0.25 --seed 0
	$(PY) train/train.py --data $(DEMO_TRAIN)/yolo/data.yaml --recipe cpu-small --project $(DEMO_TRAIN)/train --name tiny
	$(PY) infer/predict.py --model $(DEMO_TRAIN)/train/tiny/weights/best.pt --source $(DEMO_TRAIN)/data/test \
	    --images-json $(DEMO_TRAIN)/data/label_test.json --out $(DEMO_TRAIN)/predict --imgsz 320 --conf 0.1 \
	    --save-overlays
	$(PY) infer/score.py --gt $(DEMO_TRAIN)/data/truth/label_test_gt.json \
	    --pred $(DEMO_TRAIN)/predict/submission.json --json $(DEMO_TRAIN)/predict/score.json
	$(PY) infer/shape.py --coco $(DEMO_TRAIN)/data/truth/label_test_gt.json --images $(DEMO_TRAIN)/data/test \
	    --out $(DEMO_TRAIN)/truth/particles.parquet
	$(PY) infer/compare.py $(DEMO_TRAIN)/truth $(DEMO_TRAIN)/predict --labels truth predicted \
	    --out $(DEMO_TRAIN)/compare
	$(PY) infer/report.py $(DEMO_TRAIN)/truth $(DEMO_TRAIN)/predict --labels truth predicted \
	    --images $(DEMO_TRAIN)/data/test --out $(DEMO_TRAIN)/report.html
	@echo "demo-train done: open $(DEMO_TRAIN)/report.html (scores: $(DEMO_TRAIN)/predict/score.json)"
