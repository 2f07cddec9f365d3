# `make demo` and `make test` set everything up on a fresh machine: they create
# .venv if missing, install the pinned requirements, build the extension in
# place, then run.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.stamp-runtime
DEV := $(VENV)/.stamp-dev
EXTENSION := $(VENV)/.stamp-extension
SOURCES := setup.py $(shell find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')

.PHONY: demo test test-all test-cuda bench native-test build clean results

demo: $(EXTENSION)
	$(PY) -m sslfast demo

test: $(EXTENSION) $(DEV)
	$(PY) -m pytest -q -m "not slow"

test-all: $(EXTENSION) $(DEV)
	$(PY) -m pytest -q

test-cuda: $(EXTENSION) $(DEV)
	$(PY) -m pytest -q -m cuda

# The transfer table (long on a CPU; finished runs under runs/results are
# reused): rotation on digits, then every task on shapes (frame_order
# pretrains on the built-in videos).
TASKS := rotation jigsaw context deepcluster colorization splitbrain superres inpainting synthetic frame_order
RESULTS_STEPS := 300 rotation=600 deepcluster=600 colorization=150 splitbrain=150 superres=150 inpainting=150 synthetic=150 frame_order=300

results: $(EXTENSION)
	$(PY) -m sslfast results --tasks rotation --eval-data digits --steps 300
	$(PY) -m sslfast results --tasks $(TASKS) --eval-data shapes --steps $(RESULTS_STEPS) \
		--pretrain-data frame_order=videos

bench: $(EXTENSION) $(DEV)
	$(PY) -m benchmarks.report

native-test:
	cmake -S . -B native_build -DSSLFAST_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build native_build -j2
	ctest --test-dir native_build --output-on-failure

build: $(EXTENSION)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUNTIME): requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(DEV): requirements-dev.txt $(RUNTIME)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

$(EXTENSION): $(SOURCES) $(RUNTIME)
	$(PY) -m pip install -q --no-build-isolation --no-deps -e .
	touch $@

clean:
	rm -rf build native_build sslfast/_C*.so *.egg-info $(EXTENSION)
