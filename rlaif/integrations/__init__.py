"""rlaif's reward where users already train: their own TRL script (:mod:`rlaif.integrations.in_process`,
``rlaif.open_reward``), verl (:mod:`rlaif.integrations.verl`), and over HTTP for OpenRLHF and others
(``python -m rlaif.serve``)."""
