"""Watching the reward while it trains: rollout signals the reward does not see, the alarm rule, judge canaries."""
