#!/usr/bin/env bash
# One node, several GPUs: start the rollout server and the judge server, train under accelerate, stop both.
#
# Usage: scripts/launch_gpu_multi.sh [rlaif.train overrides...]
#   runs: accelerate launch --config_file scripts/accelerate/$ACCELERATE_CONFIG.yaml --num_processes N \
#           -m rlaif.train experiment=gpu_multi hydra.run.dir=$RUN_DIR [overrides...]
#
# Every GPU has one role; the three lists must not overlap (exit 2 otherwise):
#   TRAIN_GPUS=0,1,2,3     one training process per GPU (N = how many)
#   ROLLOUT_GPUS=4,5       `trl vllm-serve` for the policy's rollouts, one data-parallel engine per GPU
#   JUDGE_GPUS=6,7         one vLLM judge server, tensor-parallel over these GPUs, shared by every process
# Environment (defaults):
#   POLICY=Qwen/Qwen2.5-1.5B-Instruct   (must match policy.name_or_path: the rollout server serves it)
#   JUDGE_MODEL=Qwen/Qwen2.5-14B-Instruct
#   ACCELERATE_CONFIG=zero2 (zero2 | zero3 | fsdp2: scripts/accelerate/*.yaml, TRL's own configs)
#   ROLLOUT_PORT=8001  JUDGE_PORT=8000  HOST=127.0.0.1  MAIN_PROCESS_PORT=29500
#   RUN_DIR=outputs/gpu_multi-<date-time>   one folder for every process (never Hydra's per-process timestamp)
#   PYTHON=.venv/bin/python (rlaif, TRL and vLLM: make train builds it on a GPU machine)
#   DRY_RUN=1   print the three commands and exit without starting anything
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRAIN_GPUS="${TRAIN_GPUS:-0,1,2,3}"
ROLLOUT_GPUS="${ROLLOUT_GPUS:-4,5}"
JUDGE_GPUS="${JUDGE_GPUS:-6,7}"
POLICY="${POLICY:-Qwen/Qwen2.5-1.5B-Instruct}"
JUDGE_MODEL="${JUDGE_MODEL:-Qwen/Qwen2.5-14B-Instruct}"
ACCELERATE_CONFIG="${ACCELERATE_CONFIG:-zero2}"
HOST="${HOST:-127.0.0.1}"
ROLLOUT_PORT="${ROLLOUT_PORT:-8001}"
JUDGE_PORT="${JUDGE_PORT:-8000}"
MAIN_PROCESS_PORT="${MAIN_PROCESS_PORT:-29500}"
RUN_DIR="${RUN_DIR:-outputs/gpu_multi-$(date +%Y-%m-%d_%H-%M-%S)}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PYTHON")"
SERVERS="$RUN_DIR/servers"   # the servers' logs and the judge's PID file

fail() { echo "launch_gpu_multi.sh: $*" >&2; exit 2; }
count() { tr ',' '\n' <<<"$1" | grep -c .; }

accel_file="$ROOT/scripts/accelerate/$ACCELERATE_CONFIG.yaml"
[ -f "$accel_file" ] || fail "ACCELERATE_CONFIG=$ACCELERATE_CONFIG: no $accel_file (zero2, zero3 or fsdp2)"
for list in TRAIN_GPUS ROLLOUT_GPUS JUDGE_GPUS; do
  [[ "${!list}" =~ ^[0-9]+(,[0-9]+)*$ ]] || fail "$list=${!list}: expected GPU indices like 0,1,2"
done
shared="$(tr ',' '\n' <<<"$TRAIN_GPUS,$ROLLOUT_GPUS,$JUDGE_GPUS" | sort | uniq -d | paste -sd, -)"
[ -z "$shared" ] || fail "GPU(s) $shared in more than one of TRAIN_GPUS, ROLLOUT_GPUS, JUDGE_GPUS"

rollout_cmd=(env "CUDA_VISIBLE_DEVICES=$ROLLOUT_GPUS" "$BIN/trl" vllm-serve --model "$POLICY"
  --host "$HOST" --port "$ROLLOUT_PORT" --data_parallel_size "$(count "$ROLLOUT_GPUS")")
judge_cmd=(env "CUDA_VISIBLE_DEVICES=$JUDGE_GPUS" "RLAIF_PYTHON=$PYTHON" "RLAIF_VLLM_PYTHON=$PYTHON"
  "HOST=$HOST" "PORT=$JUDGE_PORT" DEVICE=gpu GPU_MEMORY_UTILIZATION=0.9 "PID_FILE=$SERVERS/judge.pid"
  "LOG_FILE=$SERVERS/judge.log" "$ROOT/scripts/serve_judge_vllm.sh" start "$JUDGE_MODEL"
  -- --tensor-parallel-size "$(count "$JUDGE_GPUS")")
train_cmd=(env "CUDA_VISIBLE_DEVICES=$TRAIN_GPUS" "RLAIF_JUDGE_HOST=$HOST" "RLAIF_JUDGE_PORT=$JUDGE_PORT"
  "RLAIF_ROLLOUT_HOST=$HOST" "RLAIF_ROLLOUT_PORT=$ROLLOUT_PORT" "$BIN/accelerate" launch
  --config_file "$accel_file" --num_processes "$(count "$TRAIN_GPUS")" --main_process_port "$MAIN_PROCESS_PORT"
  -m rlaif.train experiment=gpu_multi "policy.name_or_path=$POLICY" "hydra.run.dir=$RUN_DIR" "$@")

if [ "${DRY_RUN:-0}" = 1 ]; then
  printf 'rollouts: %s\njudge:    %s\ntrain:    %s\n' "${rollout_cmd[*]}" "${judge_cmd[*]}" "${train_cmd[*]}"
  exit 0
fi

if ! { [ -x "$BIN/trl" ] && "$PYTHON" -c "import vllm, rlaif" 2>/dev/null; }; then
  fail "$PYTHON needs rlaif, TRL and vLLM: run 'make env' on the GPU machine (or set PYTHON)"
fi
mkdir -p "$SERVERS"
rollout_pid=""
cleanup() {
  [ -z "$rollout_pid" ] || kill -- "-$rollout_pid" 2>/dev/null || true
  [ ! -f "$SERVERS/judge.pid" ] || RLAIF_PYTHON="$PYTHON" PID_FILE="$SERVERS/judge.pid" \
    "$ROOT/scripts/serve_judge_vllm.sh" stop || true
}
trap cleanup EXIT

# The rollout server in its own process group (setsid), so cleanup stops vLLM's workers with it.
setsid "${rollout_cmd[@]}" >"$SERVERS/rollout.log" 2>&1 &
rollout_pid=$!
"${judge_cmd[@]}"   # returns once a real request succeeds
echo "waiting for the rollout server on $HOST:$ROLLOUT_PORT (log: $SERVERS/rollout.log)"
for _ in $(seq 1 900); do
  curl -sf "http://$HOST:$ROLLOUT_PORT/health" >/dev/null && break
  kill -0 "$rollout_pid" 2>/dev/null || { tail -n 40 "$SERVERS/rollout.log" >&2; fail "the rollout server exited"; }
  sleep 1
done
curl -sf "http://$HOST:$ROLLOUT_PORT/health" >/dev/null || fail "the rollout server did not come up in 900 s"
"${train_cmd[@]}"
