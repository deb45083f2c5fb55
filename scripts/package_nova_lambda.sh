#!/usr/bin/env bash
# Build the deployment zip of rlaif's Nova RFT reward Lambda (handler: rlaif.nova.lambda_handler.handler).
#
# Usage: scripts/package_nova_lambda.sh [OUT.zip]          (default dist/rlaif-nova-lambda.zip)
# Environment (defaults):
#   LAMBDA_PYTHON=3.12   the Lambda runtime's Python (python3.12); binary wheels are picked for it
#   LAMBDA_ARCH=x86_64   x86_64 | arm64 (the function's architecture)
#   PYTHON=.venv/bin/python (any python with pip, to run pip)
#
# The zip holds rlaif (its configs and prompt sets included) and the pure dependencies of the handler's
# import path: Hydra (configs), tenacity (retries), diskcache, jsonschema (rubric output schemas), pydantic. boto3
# comes with the Lambda runtime. Never torch, transformers or TRL: the handler does not import them, and
# the script fails if any of them lands in the zip.
# Deploy (docs/nova.md): aws lambda create-function --function-name SageMaker-rlaif-reward \
#   --runtime python3.12 --handler rlaif.nova.lambda_handler.handler --zip-file fileb://dist/rlaif-nova-lambda.zip ...
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/dist/rlaif-nova-lambda.zip}"
LAMBDA_PYTHON="${LAMBDA_PYTHON:-3.12}"
LAMBDA_ARCH="${LAMBDA_ARCH:-x86_64}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

case "$LAMBDA_ARCH" in
  x86_64) platform=manylinux2014_x86_64 ;;
  arm64) platform=manylinux2014_aarch64 ;;
  *) echo "package_nova_lambda.sh: LAMBDA_ARCH=$LAMBDA_ARCH: expected x86_64 or arm64" >&2; exit 2 ;;
esac
[ ! -e "$OUT" ] || { echo "package_nova_lambda.sh: $OUT exists; remove it or name another" >&2; exit 2; }

build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT   # only the folder this run made

# The handler's dependencies. Pure-Python ones install as they are (antlr4, Hydra's parser, ships only as
# source); the two with compiled code (PyYAML, rpds-py) as wheels for the Lambda's Python and architecture.
pip_target=("$PYTHON" -m pip --disable-pip-version-check -q install --target "$build" --no-deps)
"${pip_target[@]}" "hydra-core>=1.3.2,<1.4" "omegaconf>=2.2,<2.4" "antlr4-python3-runtime==4.9.*" packaging \
  "tenacity>=9.2" "diskcache>=5.6" "jsonschema>=4.18" jsonschema-specifications referencing attrs
"${pip_target[@]}" --only-binary=:all: --implementation cp --python-version "$LAMBDA_PYTHON" --platform "$platform" \
  PyYAML rpds-py
# pydantic (settings checks, judge.policy) with its dependencies resolved for the Lambda: pydantic-core is
# compiled and must match pydantic's version exactly; typing-extensions comes with it.
"$PYTHON" -m pip --disable-pip-version-check -q install --target "$build" --only-binary=:all: --implementation cp \
  --python-version "$LAMBDA_PYTHON" --platform "$platform" "pydantic>=2.7"
# rlaif itself, as it is in this checkout (its package data: configs, prompt sets, labelled sets).
(cd "$ROOT" && tar --exclude='__pycache__' -cf - rlaif) | tar -xf - -C "$build"
rm -rf "${build:?}/bin"

for heavy in torch transformers trl peft accelerate datasets vllm; do
  if [ -e "$build/$heavy" ]; then
    echo "package_nova_lambda.sh: $heavy ended up in the zip; the handler must not need it" >&2
    exit 1
  fi
done

mkdir -p "$(dirname "$OUT")"
(cd "$build" && "$PYTHON" -m zipfile -c "$OUT.partial" ./*)   # no zip binary needed
mv "$OUT.partial" "$OUT"
echo "$OUT: $(du -h "$OUT" | cut -f1) (handler rlaif.nova.lambda_handler.handler, python$LAMBDA_PYTHON, $LAMBDA_ARCH)"
