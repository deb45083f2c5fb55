"""Reading a judge's verdict: JSON verdicts, choice distributions from log-probabilities, jury votes."""
