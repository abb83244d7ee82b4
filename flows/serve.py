"""``exportcast serve``: the main job as a scheduled deployment on a Prefect server.

``serve_forecasts`` registers ``forecast-exports/<reporter>`` on the server at
``PREFECT_API_URL`` with the config's cron schedule and the config as its parameter, then runs
the deployment's flow runs (scheduled, or triggered from the UI or ``prefect deployment run``)
in subprocesses of this process, one at a time, until Ctrl-C or SIGTERM. On shutdown Prefect
pauses the schedule; the next ``exportcast serve`` resumes it.

Shutdown used to hang: the runner waits for each flow run's process, and a run's process did
not exit when joblib's worker processes were still alive (multiprocessing joins them before
the hook that stops them runs). The flow now stops them at its end
(``flows.pipeline.stop_worker_processes``). As a guard against any other child that lingers, a
SIGTERM also starts a deadline: if the process is still alive ``SHUTDOWN_GRACE_S`` seconds
later, it says so and exits with code 0 (the schedule is paused by then), as a service manager
would otherwise SIGKILL it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from prefect.schedules import Cron, Schedule
from prefect.settings import get_current_settings, temporary_settings
from prefect.types.entrypoint import EntrypointType

from exportcast.configs import RunConfig, config_hash
from exportcast.features.errors import ExportcastError
from exportcast.flows.cache_keys import code_version
from exportcast.flows.pipeline import prefect_settings
from exportcast.flows.update_flow import update_then_forecast

__all__ = [
    "SHUTDOWN_GRACE_S",
    "ServeError",
    "deployment_name",
    "prefect_api_url",
    "schedule_of",
    "serve_forecasts",
]

SHUTDOWN_GRACE_S = 30.0


class ServeError(ExportcastError, RuntimeError):
    """There is no Prefect server to serve the deployment on."""


def deployment_name(config: RunConfig) -> str:
    """The deployment's name: the reporter (``forecast-exports/KOR``)."""
    return config.reporter


def schedule_of(config: RunConfig) -> Schedule:
    """The Prefect cron schedule of the config's ``schedule`` section."""
    return Cron(config.schedule.cron, timezone=config.schedule.timezone)


def prefect_api_url() -> str | None:
    """``PREFECT_API_URL`` from the environment or the active Prefect profile."""
    return get_current_settings().api.url


def _exit_deadline(runner: Any, grace: float, log: Callable[[str], None]) -> None:
    """Make the runner's SIGTERM handler also start a deadline for the process to exit."""
    graceful = runner.handle_sigterm

    def handle_sigterm(*args: Any, **kwargs: Any) -> None:
        def exit_late() -> None:
            time.sleep(grace)
            log(f"Prefect's runner was still alive {grace:.0f} s after SIGTERM; exiting")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

        threading.Thread(target=exit_late, name="exit-deadline", daemon=True).start()
        graceful(*args, **kwargs)

    # Runner.start installs `self.handle_sigterm` as the SIGTERM handler: the instance
    # attribute wins over the method
    runner.handle_sigterm = handle_sigterm


def _check_server(url: str) -> None:
    try:
        response = httpx.get(f"{url.rstrip('/')}/health", timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServeError(
            f"no Prefect server answers at PREFECT_API_URL={url} ({exc}); start one with "
            "'prefect server start --host 127.0.0.1'"
        ) from exc


def serve_forecasts(config: RunConfig, *, log: Callable[[str], None] = print) -> None:
    """Register the scheduled deployment and execute its runs until stopped.

    Args:
        config: The validated config; its ``schedule`` is the deployment's schedule and the
            whole config is the parameter of every run.
        log: Progress printer.

    Raises:
        ServeError: ``PREFECT_API_URL`` is unset or no server answers there.
    """
    url = prefect_api_url()
    if not url:
        raise ServeError(
            "PREFECT_API_URL is not set: 'exportcast serve' registers a deployment on a running "
            "Prefect server. Start one with 'prefect server start --host 127.0.0.1' and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    _check_server(url)
    name = deployment_name(config)
    log(
        f"serving forecast-exports/{name} on {url}: cron '{config.schedule.cron}' in "
        f"{config.schedule.timezone} (config {config_hash(config)}, code {code_version()}); "
        "Ctrl-C to stop"
    )
    # What Flow.serve does, with a Runner of our own (for the SIGTERM exit deadline). Runs
    # execute in subprocesses that inherit these settings (result cache folder).
    from prefect.runner import Runner

    with temporary_settings(updates=prefect_settings(config)):
        runner = Runner(name=name, pause_on_shutdown=True, limit=1)
        runner.add_flow(
            update_then_forecast,  # update-data, then the main job (flows/update_flow.py)
            name=name,
            schedule=schedule_of(config),
            parameters={"config": config.model_dump(mode="json")},
            paused=False,
            tags=["exportcast", config.reporter],
            version=code_version(),
            description=f"exportcast data update, then the main job for {config.reporter}",
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        _exit_deadline(runner, SHUTDOWN_GRACE_S, log)
        try:
            asyncio.run(runner.start())
        except KeyboardInterrupt:
            log("interrupted; stopping")
