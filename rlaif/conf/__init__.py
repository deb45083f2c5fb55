"""Hydra configs shipped with rlaif (a package, so pkg://rlaif.conf works from an installed wheel)."""
