#!/usr/bin/env bash
# A short GPU check for a single-GPU machine with no network (about 5 minutes): the packaged model as policy
# and judge, through python -m rlaif.train, then the step split of each run:
#   1. local:      the in-process judge on the GPU, rollouts by transformers' generate
#   2. vllm:       rollouts by vLLM in colocate mode and a vLLM judge server on the same GPU
#                  (only when vLLM is importable; skipped with a message otherwise)
# Prints one table row per run: seconds per step (median, first step left out) for generation / judge /
# optimisation, rollout tokens/s and judge requests/s (python -m rlaif.step_timing RUN_DIR... prints it again).
#
# Usage: scripts/gpu_check.sh    (OUT=gpu-check  PYTHON=.venv/bin/python  STEPS=8  TOKENS=64  TIMEOUT_S=200)
# Also on a CPU, to check the script itself: ALLOW_CPU=1 BF16=false STEPS=2 TOKENS=8 scripts/gpu_check.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
OUT="${OUT:-gpu-check}"
STEPS="${STEPS:-8}"
TOKENS="${TOKENS:-64}"
BF16="${BF16:-true}"
TIMEOUT_S="${TIMEOUT_S:-200}"   # per run: two runs stay within 8 minutes
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false

fail() { echo "gpu_check.sh: $*" >&2; exit 2; }
"$PYTHON" -c "import rlaif" 2>/dev/null || fail "$PYTHON cannot import rlaif: run 'make env' (or set PYTHON)"
if [ "${ALLOW_CPU:-0}" != 1 ]; then
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || fail "torch sees no CUDA GPU (ALLOW_CPU=1 runs the check on the CPU)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
[ ! -e "$OUT" ] || fail "$OUT exists: choose another OUT (nothing is overwritten)"
mkdir -p "$OUT"

# The packaged 135M model for both roles (no download); 4 prompts x 4 answers x TOKENS tokens per step, bf16.
common=(grpo=cpu "grpo.max_steps=$STEPS" grpo.per_device_train_batch_size=16 grpo.num_generations=4
  "grpo.max_completion_length=$TOKENS" "grpo.bf16=$BF16" grpo.save_strategy=no "grpo.report_to=[]"
  baseline.enabled=false check_judge=true)
runs=()

run() {  # run NAME OVERRIDES...: one training run, its log in $OUT/NAME.log
  local name="$1"; shift
  echo "== $name: python -m rlaif.train ${common[*]} $*"
  if timeout "$TIMEOUT_S" "$PYTHON" -m rlaif.train "${common[@]}" "$@" "hydra.run.dir=$OUT/$name" \
      >"$OUT/$name.log" 2>&1; then
    runs+=("$OUT/$name")
  else
    echo "   $name failed or ran past ${TIMEOUT_S}s (exit $?): tail of $OUT/$name.log" >&2
    tail -n 20 "$OUT/$name.log" >&2
  fi
}

judge_dtype=float32
[ "$BF16" = true ] && judge_dtype=bfloat16
run local judge=local "judge.dtype=$judge_dtype"

if "$PYTHON" -c "import vllm" 2>/dev/null; then
  run vllm grpo.use_vllm=true grpo.vllm_mode=colocate grpo.vllm_gpu_memory_utilization=0.2 \
    judge=vllm +judge/launch=vllm judge.launch.device=gpu judge.launch.gpu_memory_utilization=0.2 \
    "judge.launch.python=$PYTHON"
else
  echo "== vllm: skipped ($PYTHON cannot import vllm; on a GPU machine make env installs it)"
fi

[ "${#runs[@]}" -gt 0 ] || fail "no run finished: see $OUT/*.log"
"$PYTHON" -m rlaif.step_timing "${runs[@]}" | tee "$OUT/step_split.md"
