"""Grading: rubric / preference templates, verdict parsing, aggregation, as TRL reward functions."""
