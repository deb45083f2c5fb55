"""Tool environments for TRL's multi-turn rollouts (``environment=...``): one instance per rollout, whose public
methods are the tools the policy may call (docs/tool_use.md)."""
