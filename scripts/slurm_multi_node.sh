#!/usr/bin/env bash
#SBATCH --job-name=rlaif-multi-node
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --exclusive
#SBATCH --output=%x-%j.out
# Several nodes under SLURM: a judge node, a rollout node, and training nodes.
#
# Usage: sbatch scripts/slurm_multi_node.sh [rlaif.train overrides...]     (from the project folder,
#        on a filesystem every node sees; --nodes=K gives K-1-JUDGE_NODES training nodes)
#   nodes 0..J-1: the judge (J = JUDGE_NODES), one vLLM OpenAI server per node, tensor-parallel over its GPUs,
#                 port JUDGE_PORT; the training processes see them as a pool of judge endpoints (judge=pool)
#   node J:       the rollouts, `trl vllm-serve` (ROLLOUT_TP x ROLLOUT_DP = the node's GPUs), port ROLLOUT_PORT
#   the rest:     training, accelerate + DeepSpeed ZeRO-3, one process per GPU; runs
#                 python -m rlaif.train experiment=multi_node hydra.run.dir=$RUN_DIR [overrides...]
# The training processes find the servers through RLAIF_JUDGE_ENDPOINTS and RLAIF_ROLLOUT_HOST/PORT,
# which this script exports (conf/experiment/multi_node.yaml refuses to resolve without them).
# Environment (defaults):
#   JUDGE_NODES=1  POLICY=Qwen/Qwen2.5-7B-Instruct  JUDGE_MODEL=Qwen/Qwen2.5-72B-Instruct  GPUS_PER_NODE=8
#   ROLLOUT_TP=2  ROLLOUT_DP=4  JUDGE_PORT=8000  ROLLOUT_PORT=8001  MAIN_PROCESS_PORT=29500
#   ACCELERATE_CONFIG=zero3 (scripts/accelerate/*.yaml)  PYTHON=.venv/bin/python  RUN_DIR=outputs/slurm-$SLURM_JOB_ID
#   Open ports between nodes: JUDGE_PORT, ROLLOUT_PORT, MAIN_PROCESS_PORT, and TRL's weight-sync port
#   (grpo.vllm_group_port, 51216) from the training nodes to the rollout node.
#   DRY_RUN=1 RLAIF_NODES="n1 n2 n3 n4"   print the commands instead of running them (no SLURM needed)
set -euo pipefail

ROOT="${SLURM_SUBMIT_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
POLICY="${POLICY:-Qwen/Qwen2.5-7B-Instruct}"
JUDGE_MODEL="${JUDGE_MODEL:-Qwen/Qwen2.5-72B-Instruct}"
GPUS_PER_NODE="${GPUS_PER_NODE:-8}"
JUDGE_NODES="${JUDGE_NODES:-1}"
ROLLOUT_TP="${ROLLOUT_TP:-2}"
ROLLOUT_DP="${ROLLOUT_DP:-4}"
JUDGE_PORT="${JUDGE_PORT:-8000}"
ROLLOUT_PORT="${ROLLOUT_PORT:-8001}"
MAIN_PROCESS_PORT="${MAIN_PROCESS_PORT:-29500}"
ACCELERATE_CONFIG="${ACCELERATE_CONFIG:-zero3}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
BIN="$(dirname "$PYTHON")"
RUN_DIR="${RUN_DIR:-outputs/slurm-${SLURM_JOB_ID:-dry-run}}"

fail() { echo "slurm_multi_node.sh: $*" >&2; exit 2; }

if [ -n "${RLAIF_NODES:-}" ]; then
  read -r -a nodes <<<"$RLAIF_NODES"
else
  mapfile -t nodes < <(scontrol show hostnames "${SLURM_JOB_NODELIST:?not inside a SLURM job: use sbatch}")
fi
[[ "$JUDGE_NODES" =~ ^[1-9][0-9]*$ ]] || fail "JUDGE_NODES=$JUDGE_NODES: expected a whole number >= 1"
[ "${#nodes[@]}" -ge $((JUDGE_NODES + 2)) ] \
  || fail "${#nodes[@]} node(s): needs at least $((JUDGE_NODES + 2)) ($JUDGE_NODES judge, rollouts, training)"
[ $((ROLLOUT_TP * ROLLOUT_DP)) -eq "$GPUS_PER_NODE" ] \
  || fail "ROLLOUT_TP x ROLLOUT_DP = $((ROLLOUT_TP * ROLLOUT_DP)), not the $GPUS_PER_NODE GPUs of the rollout node"
[ -f "$ROOT/scripts/accelerate/$ACCELERATE_CONFIG.yaml" ] || fail "ACCELERATE_CONFIG=$ACCELERATE_CONFIG: no such file"
judge_nodes=("${nodes[@]:0:JUDGE_NODES}")
rollout_node="${nodes[JUDGE_NODES]}"
train_nodes=("${nodes[@]:JUDGE_NODES+1}")
n_train=${#train_nodes[@]}
endpoints=()
for node in "${judge_nodes[@]}"; do endpoints+=("http://$node:$JUDGE_PORT/v1"); done
RLAIF_JUDGE_ENDPOINTS="$(IFS=,; echo "${endpoints[*]}")"
export RLAIF_JUDGE_ENDPOINTS
export RLAIF_ROLLOUT_HOST="$rollout_node" RLAIF_ROLLOUT_PORT="$ROLLOUT_PORT"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-0}" TOKENIZERS_PARALLELISM=false

# vLLM's own server in the foreground (a detached one would end with its srun step): what rlaif's
# VLLMServer runs on a GPU, serving the name judge=vllm asks for.
judge_cmd=("$PYTHON" -m vllm.entrypoints.openai.api_server --model "$JUDGE_MODEL" --served-model-name judge
  --host 0.0.0.0 --port "$JUDGE_PORT" --tensor-parallel-size "$GPUS_PER_NODE" --gpu-memory-utilization 0.9)
rollout_cmd=("$BIN/trl" vllm-serve --model "$POLICY" --host 0.0.0.0 --port "$ROLLOUT_PORT"
  --tensor_parallel_size "$ROLLOUT_TP" --data_parallel_size "$ROLLOUT_DP")
train_launch=("$BIN/accelerate" launch --config_file "$ROOT/scripts/accelerate/$ACCELERATE_CONFIG.yaml"
  --num_machines "$n_train" --num_processes $((n_train * GPUS_PER_NODE))
  --main_process_ip "${train_nodes[0]}" --main_process_port "$MAIN_PROCESS_PORT")
train_args=(-m rlaif.train experiment=multi_node "policy.name_or_path=$POLICY" "hydra.run.dir=$RUN_DIR" "$@")
train_nodelist="$(IFS=,; echo "${train_nodes[*]}")"

if [ "${DRY_RUN:-0}" = 1 ]; then
  printf 'judge    on %s: %s\n' "$(IFS=,; echo "${judge_nodes[*]}")" "${judge_cmd[*]}"
  printf 'rollouts on %s: %s\n' "$rollout_node" "${rollout_cmd[*]}"
  # shellcheck disable=SC2016  # $SLURM_PROCID is printed as is: each node reads its own
  printf 'train    on %s: %s --machine_rank $SLURM_PROCID %s\n' "$train_nodelist" "${train_launch[*]}" \
    "${train_args[*]}"
  printf 'env: RLAIF_JUDGE_ENDPOINTS=%s RLAIF_ROLLOUT_HOST=%s RLAIF_ROLLOUT_PORT=%s\n' \
    "$RLAIF_JUDGE_ENDPOINTS" "$RLAIF_ROLLOUT_HOST" "$RLAIF_ROLLOUT_PORT"
  exit 0
fi

cd "$ROOT"
mkdir -p "$RUN_DIR/servers"
steps=()   # the servers' srun steps: one per judge node, then the rollouts
for node in "${judge_nodes[@]}"; do
  srun --nodes=1 --ntasks=1 -w "$node" "${judge_cmd[@]}" >"$RUN_DIR/servers/judge-$node.log" 2>&1 &
  steps+=($!)
done
srun --nodes=1 --ntasks=1 -w "$rollout_node" "${rollout_cmd[@]}" >"$RUN_DIR/servers/rollout.log" 2>&1 &
steps+=($!)
trap 'kill "${steps[@]}" 2>/dev/null || true' EXIT

health=()
for node in "${judge_nodes[@]}"; do health+=("http://$node:$JUDGE_PORT/health"); done
for url in "${health[@]}" "http://$rollout_node:$ROLLOUT_PORT/health"; do
  echo "waiting for $url"
  for _ in $(seq 1 1800); do
    curl -sf "$url" >/dev/null && break
    kill -0 "${steps[@]}" 2>/dev/null || fail "a server exited: see $RUN_DIR/servers/*.log"
    sleep 1
  done
  curl -sf "$url" >/dev/null || fail "$url did not answer within 30 minutes"
done

# Each training node's machine rank is its SLURM_PROCID in this step (one task per node), read there.
# shellcheck disable=SC2016  # expanded by the shell srun starts on each node, not here
srun --nodes="$n_train" --ntasks-per-node=1 -w "$train_nodelist" \
  bash -c 'n=$1; launch=("${@:2:n}"); shift $((n + 1)); exec "${launch[@]}" --machine_rank "$SLURM_PROCID" "$@"' \
  rlaif-train "${#train_launch[@]}" "${train_launch[@]}" "${train_args[@]}"
