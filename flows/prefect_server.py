"""Start Prefect's temporary server while the run's libraries import (issue 16).

Without ``PREFECT_API_URL`` Prefect starts a temporary local server (a uvicorn child process,
:class:`prefect.server.api.server.SubprocessASGIServer`) the first time the flow needs its
API, and waits for it: several seconds of the server importing and opening its database
during which the run itself does nothing. :func:`prestart` starts that very server (the same
per-process instance Prefect's client then finds and reuses) in a thread *before* the CLI
imports the pipeline's libraries (pandas, statsmodels, scikit-learn, Prefect's flow engine), so
the two overlap on the machine's cores. The server, its settings and its lifetime are
Prefect's own: it is stopped at exit by Prefect's ``atexit`` hook, as before.

Nothing is started when an API URL is set (a running server is used), when Prefect's
temporary server is disabled, or with ``runner.kind: dask`` (the pipeline starts the server
itself then, to give its URL to the Dask workers).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

__all__ = ["prestart"]


def _wanted() -> bool:
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return not settings.api.url and bool(settings.server.ephemeral.enabled)


def prestart(runner_kind: str = "default") -> Callable[[], None]:
    """Start Prefect's temporary server in a thread if the run will need one.

    Args:
        runner_kind: ``config.runner.kind`` (nothing is started for ``dask``).

    Returns:
        ``wait()``: blocks until the server answers (call it before the flow starts) and
        raises the server's start error, if any. A no-op when nothing was started.
    """
    if runner_kind != "default" or os.environ.get("EXPORTCAST_NO_PRESTART") == "1":
        return lambda: None
    if not _wanted():
        return lambda: None
    errors: list[BaseException] = []

    def start() -> None:
        try:
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()
        except BaseException as exc:  # handed to the main thread by wait()
            errors.append(exc)

    thread = threading.Thread(target=start, name="prefect-server-start", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if errors:
            raise errors[0]

    return wait
