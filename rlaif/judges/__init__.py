"""Judge transports: text in, text / log-probabilities out. No rubric logic lives here."""

from rlaif.judges.base import Judge
from rlaif.judges.limits import JudgePolicy
from rlaif.judges.protocol import (
    JudgeRequest,
    JudgeResponse,
    PermanentJudgeError,
    TransientJudgeError,
    Transport,
    TransportResult,
)

__all__ = [
    "Judge",
    "JudgePolicy",
    "JudgeRequest",
    "JudgeResponse",
    "PermanentJudgeError",
    "TransientJudgeError",
    "Transport",
    "TransportResult",
]
