"""``python -m rlaif.serve``: rlaif's reward over HTTP, for OpenRLHF (``--remote_rm_url``), Nova and any client.

Reads top to bottom: the server's settings (host, port, batching, the failure value, the API key's variable) ->
the judge and reward of ``python -m rlaif.train`` for the same ``judge=``, ``reward=``, ``rubric=`` overrides
(proven with one real request) -> the app (:mod:`rlaif.integrations.reward_server`) -> serve until SIGTERM or
Ctrl-C, which answer the requests in flight first -> the judge closed, ``judge_metrics.json`` written. The run
folder (``outputs/serve/DATE/TIME``) keeps ``rewards.jsonl`` (one step per judge batch), ``judge_totals/`` and the
hacking alarm's files. Exit codes (``rlaif.errors``): 0 stopped as asked, 2 bad input (one line naming the key;
nothing of this invocation is left behind), 1 anything else (the traceback is in the run folder's ``FAILED``).
See docs/serving.md.
"""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from rlaif.errors import ConfigError, entry_point, parse_settings
from rlaif.integrations.in_process import open_configured_reward
from rlaif.integrations.reward_server import ServeSettings, create_app, serve
from rlaif.runs.run_folder import remove_created

log = logging.getLogger("rlaif.serve")


def settings_of(cfg: DictConfig) -> tuple[ServeSettings, str | None]:
    """The server's own keys, checked; and the API key, read from the variable ``auth.api_key_env`` names."""
    keys = ("host", "port", "failure_score", "batch", "auth")
    settings = parse_settings(ServeSettings, {key: cfg[key] for key in keys if key in cfg}, "")
    name = settings.auth.api_key_env
    if name is None:
        return settings, None
    if not os.environ.get(name):
        raise ConfigError(f"auth.api_key_env: the environment variable {name} is not set (or empty)")
    return settings, os.environ[name]


@hydra.main(version_base="1.3", config_path="conf", config_name="serve")
def main(cfg: DictConfig) -> None:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    with ExitStack() as stack:  # closes the judge (and a server it launched) however the server ends
        with entry_point(run_dir, log, remove_created):  # set-up: bad input leaves nothing behind
            settings, api_key = settings_of(cfg)
            function = stack.enter_context(open_configured_reward(cfg, run_dir))
            app = create_app(function, settings, api_key)
            if api_key is None and settings.host not in ("127.0.0.1", "localhost", "::1"):
                log.warning("rlaif.serve: listening on %s without auth.api_key_env", settings.host)
        with entry_point(run_dir, log):
            log.info("rlaif.serve: http://%s:%d/get_reward (run folder %s)", settings.host, settings.port, run_dir)
            serve(app, settings)


if __name__ == "__main__":
    main()
