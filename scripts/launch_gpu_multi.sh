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
#   JUDGE_GPUS=6,7         the vLLM judge, tensor-parallel over these GPUs, shared by every process; with
#                          JUDGE_REPLICAS=N, N servers (data-parallel replicas) on equal slices of these GPUs,
#                          ports JUDGE_PORT..JUDGE_PORT+N-1, behind a pool of judge endpoints (judge=pool)
# Environment (defaults):
#   POLICY=Qwen/Qwen2.5-1.5B-Instruct   (must match policy.name_or_path: the rollout server serves it)
#   JUDGE_MODEL=Qwen/Qwen2.5-14B-Instruct
#   ACCELERATE_CONFIG=zero2 (zero2 | zero3 | fsdp2: scripts/accelerate/*.yaml, TRL's own configs)
#   JUDGE_REPLICAS=1  ROLLOUT_PORT=8001  JUDGE_PORT=8000  HOST=127.0.0.1  MAIN_PROCESS_PORT=29500
#   RUN_DIR=outputs/gpu_multi-<date-time>   one folder for every process (never Hydra's per-process timestamp)
#   PYTHON=.venv/bin/python (rlaif, TRL and vLLM: make train builds it on a GPU machine)
#   DRY_RUN=1   print the commands and exit without starting anything
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
JUDGE_REPLICAS="${JUDGE_REPLICAS:-1}"
MAIN_PROCESS_PORT="${MAIN_PROCESS_PORT:-29500}"
RUN_DIR="${RUN_DIR:-outputs/gpu_multi-$(date +%Y-%m-%d_%H-%M-%S)}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PYTHON")"
SERVERS="$RUN_DIR/servers"   # the servers' logs and the judges' PID files

fail() { echo "launch_gpu_multi.sh: $*" >&2; exit 2; }
count() { tr ',' '\n' <<<"$1" | grep -c .; }

accel_file="$ROOT/scripts/accelerate/$ACCELERATE_CONFIG.yaml"
[ -f "$accel_file" ] || fail "ACCELERATE_CONFIG=$ACCELERATE_CONFIG: no $accel_file (zero2, zero3 or fsdp2)"
for list in TRAIN_GPUS ROLLOUT_GPUS JUDGE_GPUS; do
  [[ "${!list}" =~ ^[0-9]+(,[0-9]+)*$ ]] || fail "$list=${!list}: expected GPU indices like 0,1,2"
done
shared="$(tr ',' '\n' <<<"$TRAIN_GPUS,$ROLLOUT_GPUS,$JUDGE_GPUS" | sort | uniq -d | paste -sd, -)"
[ -z "$shared" ] || fail "GPU(s) $shared in more than one of TRAIN_GPUS, ROLLOUT_GPUS, JUDGE_GPUS"

[[ "$JUDGE_REPLICAS" =~ ^[1-9][0-9]*$ ]] || fail "JUDGE_REPLICAS=$JUDGE_REPLICAS: expected a whole number >= 1"
read -r -a judge_gpus <<<"${JUDGE_GPUS//,/ }"
(( ${#judge_gpus[@]} % JUDGE_REPLICAS == 0 )) \
  || fail "JUDGE_REPLICAS=$JUDGE_REPLICAS does not divide the ${#judge_gpus[@]} JUDGE_GPUS ($JUDGE_GPUS)"
per_replica=$(( ${#judge_gpus[@]} / JUDGE_REPLICAS ))
last_judge_port=$(( JUDGE_PORT + JUDGE_REPLICAS - 1 ))
for port in "$ROLLOUT_PORT" "$MAIN_PROCESS_PORT"; do
  (( port < JUDGE_PORT || port > last_judge_port )) \
    || fail "port $port is also a judge port ($JUDGE_PORT-$last_judge_port): set JUDGE_PORT or ROLLOUT_PORT apart"
done

rollout_cmd=(env "CUDA_VISIBLE_DEVICES=$ROLLOUT_GPUS" "$BIN/trl" vllm-serve --model "$POLICY"
  --host "$HOST" --port "$ROLLOUT_PORT" --data_parallel_size "$(count "$ROLLOUT_GPUS")")
judge_cmd() {   # sets cmd to the command of judge replica $1: its slice of JUDGE_GPUS, its port
  local i=$1
  cmd=(env "CUDA_VISIBLE_DEVICES=$(IFS=,; echo "${judge_gpus[*]:i*per_replica:per_replica}")"
    "RLAIF_PYTHON=$PYTHON" "RLAIF_VLLM_PYTHON=$PYTHON" "HOST=$HOST" "PORT=$((JUDGE_PORT + i))" DEVICE=gpu
    GPU_MEMORY_UTILIZATION=0.9 "PID_FILE=$SERVERS/judge-$i.pid" "LOG_FILE=$SERVERS/judge-$i.log"
    "$ROOT/scripts/serve_judge_vllm.sh" start "$JUDGE_MODEL" -- --tensor-parallel-size "$per_replica")
}
endpoints=()
for ((i = 0; i < JUDGE_REPLICAS; i++)); do endpoints+=("http://$HOST:$((JUDGE_PORT + i))/v1"); done
train_cmd=(env "CUDA_VISIBLE_DEVICES=$TRAIN_GPUS" "RLAIF_JUDGE_ENDPOINTS=$(IFS=,; echo "${endpoints[*]}")"
  "RLAIF_ROLLOUT_HOST=$HOST" "RLAIF_ROLLOUT_PORT=$ROLLOUT_PORT" "$BIN/accelerate" launch
  --config_file "$accel_file" --num_processes "$(count "$TRAIN_GPUS")" --main_process_port "$MAIN_PROCESS_PORT"
  -m rlaif.train experiment=gpu_multi "policy.name_or_path=$POLICY" "hydra.run.dir=$RUN_DIR" "$@")

if [ "${DRY_RUN:-0}" = 1 ]; then
  printf 'rollouts: %s\n' "${rollout_cmd[*]}"
  for ((i = 0; i < JUDGE_REPLICAS; i++)); do judge_cmd "$i"; printf 'judge %s:  %s\n' "$i" "${cmd[*]}"; done
  printf 'train:    %s\n' "${train_cmd[*]}"
  exit 0
fi

if ! { [ -x "$BIN/trl" ] && "$PYTHON" -c "import vllm, rlaif" 2>/dev/null; }; then
  fail "$PYTHON needs rlaif, TRL and vLLM: run 'make env' on the GPU machine (or set PYTHON)"
fi
mkdir -p "$SERVERS"
rollout_pid=""
cleanup() {
  [ -z "$rollout_pid" ] || kill -- "-$rollout_pid" 2>/dev/null || true
  for pid_file in "$SERVERS"/judge-*.pid; do
    [ ! -f "$pid_file" ] || RLAIF_PYTHON="$PYTHON" PID_FILE="$pid_file" "$ROOT/scripts/serve_judge_vllm.sh" stop || true
  done
}
trap cleanup EXIT

# The rollout server in its own process group (setsid), so cleanup stops vLLM's workers with it.
setsid "${rollout_cmd[@]}" >"$SERVERS/rollout.log" 2>&1 &
rollout_pid=$!
# The judge replicas start side by side; each start returns once a real request succeeds.
judge_pids=()
for ((i = 0; i < JUDGE_REPLICAS; i++)); do judge_cmd "$i"; "${cmd[@]}" & judge_pids+=($!); done
for pid in "${judge_pids[@]}"; do wait "$pid" || fail "a judge server did not start: see $SERVERS/judge-*.log"; done
echo "waiting for the rollout server on $HOST:$ROLLOUT_PORT (log: $SERVERS/rollout.log)"
for _ in $(seq 1 900); do
  curl -sf "http://$HOST:$ROLLOUT_PORT/health" >/dev/null && break
  kill -0 "$rollout_pid" 2>/dev/null || { tail -n 40 "$SERVERS/rollout.log" >&2; fail "the rollout server exited"; }
  sleep 1
done
curl -sf "http://$HOST:$ROLLOUT_PORT/health" >/dev/null || fail "the rollout server did not come up in 900 s"
"${train_cmd[@]}"
