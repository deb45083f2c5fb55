"""The judge prompts: how a rubric or a preference question is put to the judge."""
