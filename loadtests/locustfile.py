"""Locustfile for plain ``locust -f loadtests/locustfile.py`` runs and for worker processes.

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --headless -u 50 -r 10 -t 30s

Users are ``load0``, ``load1``, ... (``goldenpath users create --count N``);
set ``GOLDENPATH_LOAD_CONFIG`` (see ``loadtests/config.py``) to change that
(on a master, it is sent to every worker: workers need not set it),
and ``GOLDENPATH_RESULTS_DIR`` to have a plain Locust run write the raw event
log there too. In the web UI (without ``--headless``) the *Golden path* tab
shows the harness's own counts and exact percentiles, live.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.config import ENV_VAR, LoadConfig
from loadtests.recorder import Recorder
from loadtests.users import GoldenPathUser, load_config, set_config
from loadtests.webui import attach_web_ui

__all__ = ["GoldenPathUser", "attach"]


CONFIG_MESSAGE = "goldenpath_config"


def _share_config(environment: Environment) -> None:
    """A master with a LoadConfig of its own sends it to every worker before users spawn.

    It goes to each worker when it connects (``worker_connect`` fires after the
    ``ack``, before any ``spawn``; a worker that joins mid-run included) and to all
    at ``test_start`` (before the first ``spawn`` messages). A worker handles
    messages in order, so a worker on another host runs with the master's accounts,
    timeouts and connection mode, whatever its own environment says. A master with
    no config (a plain ``locust --master`` without ``GOLDENPATH_LOAD_CONFIG``) sends
    nothing, and its workers keep their own.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def receive(msg: Any, **_: Any) -> None:
            set_config(LoadConfig(**msg.data))

        runner.register_message(CONFIG_MESSAGE, receive)
    elif isinstance(runner, MasterRunner) and ENV_VAR in os.environ:
        master = runner

        def send(client_id: str | None = None, **_: Any) -> None:
            master.send_message(CONFIG_MESSAGE, asdict(load_config()), client_id=client_id)

        environment.events.worker_connect.add_listener(send)
        environment.events.test_start.add_listener(send)


def attach(environment: Environment, out_dir: Path | None = None) -> Recorder:
    """Hook the event log (and the open model's schedule, if asked for) into ``environment``."""
    _share_config(environment)
    recorder = Recorder(environment, out_dir)
    environment.goldenpath_recorder = recorder  # type: ignore[attr-defined]
    cfg = load_config()
    if cfg.model == "open":
        from loadtests.openmodel import ArrivalSchedule

        schedule = ArrivalSchedule(
            environment,
            rate=cfg.rate,
            rate_end=cfg.rate_end,
            duration_s=cfg.duration_s,
            arrival=cfg.arrival,
            share=1.0 / max(1, cfg.processes),
            seed=cfg.seed + int(getattr(environment.runner, "worker_index", 0) or 0),
        )
        environment.goldenpath_schedule = schedule  # type: ignore[attr-defined]
        environment.events.test_start.add_listener(lambda **_: schedule.start())
        environment.events.test_stop.add_listener(lambda **_: schedule.stop())
    return recorder


def _on_init(environment: Environment, **_: Any) -> None:
    results = os.environ.get("GOLDENPATH_RESULTS_DIR")
    recorder = attach(environment, Path(results) if results else None)
    attach_web_ui(environment, recorder)  # the Golden-path tab, where there is a web UI
    if results:
        recorder.start()
        environment.events.quitting.add_listener(lambda **_: recorder.finalize())


events.init.add_listener(_on_init)
