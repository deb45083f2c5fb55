"""rlaif: reinforcement fine-tuning of open LLMs with an LLM-as-a-judge reward."""

__version__ = "0.1.0"
