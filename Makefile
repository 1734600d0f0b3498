# Two commands do all set-up on a fresh machine:  `make demo`  and  `make test`.
# Each creates .venv (Python >= 3.11) if it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := runs/demo

.PHONY: demo test lint format bench clean-demo

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

# The main job on built-in data: synthesize -> convert -> train -> predict -> score -> shapes -> report.
# Everything lands in runs/demo/ (rebuilt from scratch each time); open runs/demo/report.html.
demo: $(VENV)/.installed
	rm -rf $(DEMO)
	$(PY) datasets/synthesize.py --out $(DEMO)/data --preset small --frames 60 --seed 0
	$(PY) convert/coco2yolo.py --json $(DEMO)/data/label_train.json --images $(DEMO)/data/train \
	    --out $(DEMO)/yolo --group-size 10 --val-frac 0.25 --seed 0
	$(PY) train/train.py --data $(DEMO)/yolo/data.yaml --recipe cpu-small --project $(DEMO)/train --name tiny
	$(PY) infer/predict.py --model $(DEMO)/train/tiny/weights/best.pt --source $(DEMO)/data/test \
	    --images-json $(DEMO)/data/label_test.json --out $(DEMO)/predict --imgsz 320 --conf 0.1 --save-overlays
	$(PY) infer/score.py --gt $(DEMO)/data/truth/label_test_gt.json --pred $(DEMO)/predict/submission.json \
	    --json $(DEMO)/predict/score.json
	$(PY) infer/shape.py --coco $(DEMO)/data/truth/label_test_gt.json --images $(DEMO)/data/test \
	    --out $(DEMO)/truth/particles.parquet
	$(PY) infer/compare.py $(DEMO)/truth $(DEMO)/predict --labels truth predicted --out $(DEMO)/compare
	$(PY) infer/report.py $(DEMO)/truth $(DEMO)/predict --labels truth predicted --images $(DEMO)/data/test \
	    --out $(DEMO)/report.html
	@echo "demo done: open $(DEMO)/report.html (scores: $(DEMO)/predict/score.json)"
