#!/usr/bin/env bash
# The prepared GPU check for a lent GPU machine (one GPU, no network; its image has torch + CUDA, transformers,
# accelerate and peft, not TRL, Hydra or datasets). Run from the project root with .device/bundle.tar.xz carried
# (made here by scripts/device_wheels.sh); everything lands in $OUT. Within BUDGET_S (8 minutes):
#   0. install the bundle's wheels with pip --no-index into a target folder (nothing else is touched)
#   1. pytest -m gpu tests/gpu           bf16 policy + one GRPO step with LoRA, the local judge on cuda:0
#                                        against the CPU, the step timer's synchronised timings (its own
#                                        device named, also from the thread TRL runs the reward in)
#   2. python -m rlaif.train grpo=gpu grpo.use_vllm=false judge=local, STEPS steps, with a tiny random model
#      built at run time (scripts/make_tiny_model.py) as policy and judge
#   3. python -m rlaif.step_timing of that run
# $OUT/summary.txt has one line per part (ok/FAILED, seconds); the exit status is 1 when any part failed.
#
# Usage: scripts/device_check.sh   (OUT=device-check  PYTHON=python3  STEPS=4  BUDGET_S=480)
#        DRY_RUN=1 prints the wheels and the commands; ALLOW_CPU=1 INSTALL=0 BF16=false runs it on a CPU
#        in an environment that already has rlaif's dependencies (to check the script itself).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
OUT="${OUT:-device-check}"
STEPS="${STEPS:-4}"
BUDGET_S="${BUDGET_S:-480}"
BF16="${BF16:-true}"
INSTALL="${INSTALL:-1}"
BUNDLE="$ROOT/.device/bundle.tar.xz"
LOCK="$ROOT/scripts/device_wheels.lock"
SITE="${SITE:-${TMPDIR:-/tmp}/rlaif-device-site}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PIP_CONFIG_FILE=/dev/null MPLBACKEND=Agg

dtype=float32
[ "$BF16" = true ] && dtype=bfloat16
pytest_cmd=("$PYTHON" -m pytest -m gpu tests/gpu -p no:cacheprovider -o addopts= -ra)
train_cmd=("$PYTHON" -m rlaif.train grpo=gpu grpo.use_vllm=false judge=local reward=rubric
  "policy.name_or_path=$OUT/tiny-model" "judge.model=$OUT/tiny-model" "judge.dtype=$dtype" "grpo.bf16=$BF16"
  "grpo.max_steps=$STEPS" grpo.per_device_train_batch_size=8 grpo.gradient_accumulation_steps=1
  grpo.num_generations=4 grpo.max_completion_length=32 grpo.activation_checkpointing=false grpo.save_strategy=no
  "grpo.report_to=[]" grpo.logging_steps=1 baseline.prompts=4 "hydra.run.dir=$OUT/train")

if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "wheels (scripts/device_wheels.lock, from $BUNDLE):"
  grep -v '^#' "$LOCK" | awk '{print "  " $1}'
  echo "commands:"
  echo "  tar -xJf $BUNDLE; $PYTHON -m pip install --no-index --no-deps --target $SITE <the lock's wheels>"
  echo "  PYTHONPATH=$SITE:$ROOT"
  echo "  $PYTHON scripts/make_tiny_model.py $OUT/tiny-model"
  echo "  RLAIF_TINY_MODEL=$OUT/tiny-model ${pytest_cmd[*]}"
  echo "  ${train_cmd[*]}"
  echo "  $PYTHON -m rlaif.step_timing $OUT/train"
  exit 0
fi

fail() { echo "device_check.sh: $*" >&2; exit 2; }
[ ! -e "$OUT" ] || fail "$OUT exists: choose another OUT (nothing is overwritten)"
mkdir -p "$OUT"
start=$SECONDS
failed=0
remaining() { echo $((BUDGET_S - (SECONDS - start))); }

part() {  # part NAME COMMAND...: run one part within the time left, its output in $OUT/NAME.log
  local name="$1" t0=$SECONDS left rc=0
  shift
  left=$(remaining)
  if [ "$left" -le 5 ]; then
    echo "$name: SKIPPED (budget spent)" | tee -a "$OUT/summary.txt"; failed=1; return
  fi
  echo "== $name (at most ${left}s): $*"
  timeout "$left" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then
    echo "$name: ok ($((SECONDS - t0)) s)" | tee -a "$OUT/summary.txt"
  else
    echo "$name: FAILED (exit $rc, $((SECONDS - t0)) s): tail of $OUT/$name.log" | tee -a "$OUT/summary.txt"
    tail -n 25 "$OUT/$name.log"
    failed=1
  fi
}

{ nvidia-smi || echo "no nvidia-smi"; } >"$OUT/nvidia-smi.txt" 2>&1
"$PYTHON" -c 'import sys, torch, transformers, accelerate, peft
print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", "transformers", transformers.__version__,
      "accelerate", accelerate.__version__, "peft", peft.__version__)' | tee "$OUT/versions.txt"
if [ "${ALLOW_CPU:-0}" != 1 ]; then
  "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || fail "torch sees no CUDA GPU (ALLOW_CPU=1 runs the check on the CPU)"
fi

if [ "$INSTALL" = 1 ]; then
  [ -f "$BUNDLE" ] || fail "$BUNDLE is missing: run scripts/device_wheels.sh here and carry .device/bundle.tar.xz"
  rm -rf "$SITE"
  unpacked="$(mktemp -d)"
  tar -xJf "$BUNDLE" -C "$unpacked"
  part install "$PYTHON" -m pip install --isolated --disable-pip-version-check --no-index --no-deps \
    --target "$SITE" "$unpacked"/*.whl
  rm -rf "$unpacked"
  export PYTHONPATH="$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  "$PYTHON" -m pip list --path "$SITE" --format=freeze >"$OUT/installed.txt" 2>/dev/null || true
else
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi

part tiny-model "$PYTHON" scripts/make_tiny_model.py "$OUT/tiny-model"
export RLAIF_TINY_MODEL="$ROOT/$OUT/tiny-model"
[[ "$OUT" = /* ]] && RLAIF_TINY_MODEL="$OUT/tiny-model"
part pytest-gpu "${pytest_cmd[@]}" --junitxml="$OUT/pytest-gpu.xml"
part train "${train_cmd[@]}"
part step-timing "$PYTHON" -m rlaif.step_timing "$OUT/train"
cat "$OUT/step-timing.log" >"$OUT/step_split.md" 2>/dev/null || true

echo "== summary ($((SECONDS - start)) s of ${BUDGET_S} s)"
cat "$OUT/summary.txt"
[ -f "$OUT/step_split.md" ] && cat "$OUT/step_split.md"
exit "$failed"
