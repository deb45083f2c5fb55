"""Run plumbing: the run folder and its safety rule, secrets kept out of logs, step timing, config checks,
and opening the judge and reward every entry point shares."""
