#!/usr/bin/env bash
# Downloads the wheels a lent GPU machine's image lacks for scripts/device_check.sh, and packs them for the
# trip: run here (with the package index), then carry .device/bundle.tar.xz with the working tree.
#
# The list is derived, not written by hand. pip resolves, for Python 3.12 on manylinux x86-64:
#   1. the image:  IMAGE_PACKAGES (torch as a metadata-only stub: its version and its non-CUDA requirements,
#                  read from the real wheel; the CUDA libraries are not resolvable from here, nor needed);
#   2. the check:  the image plus CHECK_PACKAGES (what the check imports beyond the image, found by tracing
#                  imports through a run of the check), every image distribution pinned to step 1's version.
# The wheels of step 2 that step 1 lacks are written to scripts/device_wheels.lock (name==version, file,
# sha256, url), downloaded without dependencies into .device/wheels/ (hashes checked), and packed: each wheel
# re-zipped without compression (same files, same RECORD) into one xz tarball, a third smaller than the
# wheels. Then VERIFY=1 (default) installs them with --no-index into a clean Python 3.12 venv holding only
# the image's packages (the stub torch), and runs pip check there.
#
# Usage: scripts/device_wheels.sh       (PYTHON=.venv/bin/python  PYTHON312=python3.12 or pyenv's  MAX_MIB=60
#                                        VERIFY=1; VERIFY_ONLY=1 checks the bundle made before;
#                                        DRY_RUN=1 prints the wheel list and the commands only)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DEVICE="$ROOT/.device"
WHEELS="$DEVICE/wheels"
BUNDLE="$DEVICE/bundle.tar.xz"
LOCK="$ROOT/scripts/device_wheels.lock"
HELPER="$ROOT/scripts/device_wheels.py"
# The carry limit is 64 MiB with the working tree (~1 MiB). The issue asked for 48 MiB; the check's wheels
# cannot meet it: TRL 1.16 needs datasets>=4.7, which needs pyarrow>=22, and pyarrow 26's wheel alone is
# 52.5 MiB (90.8 MiB in all; 53.9 MiB packed). 60 MiB leaves the tree 4 MiB.
MAX_MIB="${MAX_MIB:-60}"
VERIFY="${VERIFY:-1}"
# What the GPU image is assumed to hold (the issue says "torch 2.11 + CUDA, transformers 5.17, accelerate,
# peft"): accelerate and peft are the releases current with transformers 5.17.0 (2026-09-09): accelerate
# 1.15.0 (same day), peft 0.21.1. Their own dependencies are assumed at the newest versions these allow.
IMAGE_PACKAGES=(torch==2.11.0 transformers==5.17.0 accelerate==1.15.0 peft==0.21.1)
# What python -m rlaif.train grpo=gpu judge=local, python -m rlaif.step_timing and pytest -m gpu import
# beyond the image (rlaif's own specifiers, pyproject.toml): Hydra, TRL (and through it datasets, pyarrow,
# pandas), the judge cache and retries, matplotlib (the reward curve, drawn before run_summary.json), pytest.
CHECK_PACKAGES=("trl>=1.16,<1.17" "hydra-core>=1.3.2,<1.4" "datasets>=4.0" "diskcache>=5.6" "tenacity>=9.2"
  "matplotlib>=3.9" "pytest>=8")
# hydra-core needs antlr4-python3-runtime 4.9.3, published only as a source archive: built here, pure Python.
SOURCE_ONLY=(antlr4-python3-runtime==4.9.3)
TARGET=(--python-version 3.12 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
  --platform manylinux2014_x86_64 --only-binary=:all:)
# Only the package index: no local find-links, extra indexes or constraints from this machine's pip config.
export PIP_CONFIG_FILE=/dev/null
PIP=("$PYTHON" -m pip --isolated --disable-pip-version-check)

fail() { echo "device_wheels.sh: $*" >&2; exit 2; }

if [ "${DRY_RUN:-0}" = 1 ]; then
  echo "wheels (scripts/device_wheels.lock):"
  "$PYTHON" "$HELPER" show "$LOCK" "$WHEELS"
  echo "commands:"
  echo "  pip wheel --no-deps ${SOURCE_ONLY[*]} -w $DEVICE/local"
  echo "  pip install --dry-run --no-deps --report torch.json ${TARGET[*]} ${IMAGE_PACKAGES[0]}"
  echo "  python scripts/device_wheels.py stub torch.json $DEVICE/local"
  echo "  pip install --dry-run --report image.json ${TARGET[*]} ${IMAGE_PACKAGES[*]}   (torch: the stub, +image)"
  echo "  pip install --dry-run --report check.json -c image-pins.txt ${TARGET[*]} ${IMAGE_PACKAGES[*]} ${CHECK_PACKAGES[*]}"
  echo "  python scripts/device_wheels.py missing image.json check.json $LOCK"
  echo "  pip download --no-deps ${TARGET[*]} -d $WHEELS -r <the lock's pins>"
  echo "  pack $BUNDLE (stored wheels, xz); fail over $MAX_MIB MiB"
  [ "$VERIFY" = 1 ] && echo "  python3.12 -m venv; pip install --no-index stub torch + image pins; pip install --no-index -r lock; pip check"
  exit 0
fi

"$PYTHON" -m pip --version >/dev/null || fail "$PYTHON has no pip (set PYTHON)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "${VERIFY_ONLY:-0}" = 1 ]; then  # the clean-venv check of the bundle made before
  cp "$DEVICE/image-pins.txt" "$work/"
else
rm -rf "$WHEELS" "$DEVICE/local" "$BUNDLE"
mkdir -p "$WHEELS" "$DEVICE/local"

echo "== resolving the image (${IMAGE_PACKAGES[*]}) and the check for Python 3.12"
"${PIP[@]}" wheel -q --no-deps "${SOURCE_ONLY[@]}" -w "$DEVICE/local"
resolve() {  # resolve REPORT ARGS...: pip's resolution for the target, nothing installed or downloaded
  local report="$1"; shift
  "${PIP[@]}" install -q --dry-run --ignore-installed --target "$work/target" "${TARGET[@]}" \
    --find-links "$DEVICE/local" --report "$report" "$@"
}
resolve "$work/torch.json" --no-deps "${IMAGE_PACKAGES[0]}"
"$PYTHON" "$HELPER" stub "$work/torch.json" "$DEVICE/local" >/dev/null
image=("${IMAGE_PACKAGES[@]}")
image[0]="$(basename "$DEVICE"/local/torch-*+image-*.whl | cut -d- -f1,2 | sed 's/-/==/')"
resolve "$work/image.json" "${image[@]}"
"$PYTHON" -c 'import json, sys
for i in json.load(open(sys.argv[1]))["install"]:
    print(i["metadata"]["name"] + "==" + i["metadata"]["version"])' "$work/image.json" >"$work/image-pins.txt"
resolve "$work/check.json" -c "$work/image-pins.txt" "${image[@]}" "${CHECK_PACKAGES[@]}"
"$PYTHON" "$HELPER" missing "$work/image.json" "$work/check.json" "$LOCK"

echo "== downloading"
grep -v '^#' "$LOCK" | awk '{print $1}' | grep -v -F -x -f <(printf '%s\n' "${SOURCE_ONLY[@]}") >"$work/pins.txt" || true
"${PIP[@]}" download -q --no-deps "${TARGET[@]}" -d "$WHEELS" -r "$work/pins.txt"
cp "$DEVICE"/local/antlr4_python3_runtime-*.whl "$WHEELS/"
grep -v '^#' "$LOCK" | while read -r _pin file sha _url; do
  [ -f "$WHEELS/$file" ] || fail "$file was not downloaded"
  [ "sha256=$(sha256sum "$WHEELS/$file" | cut -d' ' -f1)" = "$sha" ] || fail "$file: sha256 differs from the index's"
done
"$PYTHON" "$HELPER" show "$LOCK" "$WHEELS"

echo "== packing $BUNDLE"
"$PYTHON" "$HELPER" pack "$WHEELS" "$BUNDLE"
size=$(stat -c %s "$BUNDLE")
echo "   $(awk -v s="$size" 'BEGIN {printf "%.2f", s / 1048576}') MiB (limit $MAX_MIB MiB)"
[ "$size" -le $((MAX_MIB * 1048576)) ] || fail "$BUNDLE exceeds $MAX_MIB MiB: see the list above"
cp "$work/image-pins.txt" "$DEVICE/"
fi

if [ "$VERIFY" = 1 ]; then
  py312="${PYTHON312:-}"
  for candidate in python3.12 "$HOME"/.pyenv/versions/3.12*/bin/python3.12; do
    [ -n "$py312" ] && break
    "$candidate" -V >/dev/null 2>&1 && py312="$candidate"
  done
  [ -n "$py312" ] || fail "no Python 3.12 for the clean-venv check (set PYTHON312, or VERIFY=0)"
  echo "== a clean Python 3.12 venv ($py312) with the image's packages, then the bundle, --no-index"
  "$py312" -m venv "$work/venv"
  vpip=("$work/venv/bin/python" -m pip --isolated --disable-pip-version-check -q)
  grep -v '^torch==' "$work/image-pins.txt" >"$work/image-rest.txt"
  "${vpip[@]}" download --no-deps -d "$work/image" -r "$work/image-rest.txt"
  "${vpip[@]}" install --no-index --no-deps "$DEVICE"/local/torch-*+image-*.whl "$work"/image/*.whl
  mkdir "$work/unpacked" && tar -xJf "$BUNDLE" -C "$work/unpacked"
  grep -v '^#' "$LOCK" | awk '{print $1}' >"$work/lock-pins.txt"
  "${vpip[@]}" install --no-index --find-links "$work/unpacked" -r "$work/lock-pins.txt"
  "$work/venv/bin/python" -m pip check
  "$work/venv/bin/python" -c 'import hydra, omegaconf, datasets, pyarrow, pandas, matplotlib, pytest, diskcache, tenacity'
  echo "   installed and consistent (pip check); the non-torch imports work (torch there is a stub)"
fi
echo "carry: .device/bundle.tar.xz (then: scripts/device_check.sh)"
