"""Judge backends: one transport each (OpenAI-compatible/vLLM, Bedrock, in-process transformers)."""
