"""Start Prefect's temporary server at the very start of a run, beside the run's imports (issue 16).

Without ``PREFECT_API_URL`` Prefect starts a temporary local server (``uvicorn`` serving
``prefect.server.api.server:create_app`` in a child process, Prefect's
``SubprocessASGIServer``) the first time a flow needs its API, and waits for it. Left to
Prefect, that costs a run twice: this process first imports Prefect's whole server (FastAPI,
SQLAlchemy, the API routes: about 3.4 s of CPU, which a thread cannot overlap with the run's own
imports because both need the interpreter lock), then waits for the child to import the same
modules again and open its database (about 5 s).

:func:`prestart` launches that same child process (the same command, environment and
``127.0.0.1`` port range as Prefect's temporary server) *before* the CLI imports the pipeline's
libraries, without importing the server here: the child imports on the second core while this
process imports pandas, statsmodels, scikit-learn and Prefect's flow engine on the first. The
returned ``wait()`` blocks until the server answers ``/health`` and gives its API URL, which the
run then uses as ``PREFECT_API_URL``. The child is stopped when this process exits (``atexit``:
terminate, then kill after 1 s), as Prefect stops its own.

Nothing is started with ``PREFECT_API_URL`` in the environment (a running server is used) or
``EXPORTCAST_NO_PRESTART=1`` (Prefect then starts its own, later); a server launched before
Prefect's settings said otherwise (an API URL in a Prefect profile, the temporary server
disabled) is stopped by ``wait()``. With ``runner.kind: dask`` the Dask workers get the same URL.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from exportcast.features.errors import ExportcastError

__all__ = ["PrefectServerError", "TemporaryServer", "prepare_database", "prestart"]

# Prefect's own range for its temporary server (SubprocessASGIServer._port_range)
PORTS = range(8000, 9000)
# uvicorn's exit code when it cannot bind its port (another process took it meanwhile)
PORT_IN_USE = 3


class PrefectServerError(ExportcastError):
    """Prefect's temporary server did not start (its error output is in the message)."""


def _wanted() -> bool:
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    return not settings.api.url and bool(settings.server.ephemeral.enabled)


def _free_port() -> int:
    for _ in range(50):
        port = random.choice(PORTS)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PrefectServerError(f"no free port for Prefect's temporary server in {PORTS}")


# Block types registered at the server's start (Prefect's default) and the aliases of the two
# settings: runs use no blocks (docs/operations.md#timings)
BLOCK_SETTINGS = {
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START": ("PREFECT_API_BLOCKS_REGISTER_ON_START",),
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION": ("PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION",),
}


def _no_block_registration(environ: Mapping[str, str]) -> dict[str, str]:
    """Settings that skip the block-type registration at the temporary server's start.

    At each start Prefect's server imports every ``prefect.collections`` package (here
    prefect-dask, with Dask's ``distributed``) to hash the block types it would register,
    then compares the hash with ``memo_store.toml``: about 0.45 s of a start that is the
    longest thing before a run's first stage (3.5-3.8 s). Runs store no blocks (results and
    caches are files, flows/memo_store.py), so the temporary server skips that step. A value
    the user set for either setting (under any of its names) is left as it is.
    """
    return {
        name: "false"
        for name, aliases in BLOCK_SETTINGS.items()
        if not any(alias in environ for alias in (name, *aliases))
    }


class TemporaryServer:
    """Prefect's temporary API server as a child process of this one (127.0.0.1 only)."""

    def __init__(self) -> None:
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        # the child's error output, read back only if it fails to start
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (open for the child's life)
        atexit.register(self.stop)

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:<port>/api`` (for ``PREFECT_API_URL``)."""
        return f"http://127.0.0.1:{self.port}/api"

    def launch(self) -> None:
        """Start the child process (returns at once; :meth:`wait` waits for it to answer).

        Prefect itself is not imported here (importing its settings alone takes about a
        second): the child reads the same environment and profile as this process, and
        nothing has set a Prefect setting in code this early in a command.
        """
        spec = importlib.util.find_spec("prefect")
        if spec is None or spec.origin is None:
            raise PrefectServerError("Prefect is not installed in this environment")
        self.port = _free_port()
        env = {
            **os.environ,
            # as Prefect's own temporary server: no UI, ephemeral mode
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
            **_no_block_registration(os.environ),
        }
        command = [
            sys.executable, "-m", "uvicorn",
            "--app-dir", str(Path(spec.origin).parent.parent),
            "--factory", "prefect.server.api.server:create_app",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )

    def wait(self, timeout: float) -> str:
        """Block until the server answers ``/health``; return its API URL.

        Raises:
            PrefectServerError: The child exited or did not answer within ``timeout`` seconds
                (the message holds the end of its error output).
        """
        import httpx

        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=5) as client:
            while time.monotonic() < deadline:
                assert self.process is not None
                code = self.process.poll()
                if code == PORT_IN_USE:  # the port was taken between our check and its bind
                    self.launch()
                    continue
                if code is not None:
                    raise PrefectServerError(
                        f"Prefect's temporary server exited with code {code}: {self._tail()}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return self.api_url
                time.sleep(0.05)
        self.stop()
        raise PrefectServerError(
            f"Prefect's temporary server did not answer within {timeout:g} s "
            f"(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS): {self._tail()}"
        )

    def _tail(self) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return text[-2000:] or "no error output"

    def stop(self) -> None:
        """Stop the child (terminate; kill after 1 s). Safe to call more than once.

        It usually ends 0.2 s after SIGTERM; once in a while its shutdown hung until the kill
        (then after 5 s, at the end of every such run). Killed, the server loses nothing: the
        run has ended, and its SQLite database is consistent after a kill.
        """
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prestart() -> Callable[[], str | None]:
    """Launch Prefect's temporary server now if the run may need one.

    Nothing is launched with ``PREFECT_API_URL`` in the environment or
    ``EXPORTCAST_NO_PRESTART=1``. Otherwise the server is launched at once, before Prefect's
    settings are even imported; ``wait()`` then reads them and stops the server again if they
    say the run must not use one (an API URL from a Prefect profile, or the temporary server
    disabled).

    Returns:
        ``wait()``: blocks until the server answers and returns its API URL (for
        ``PREFECT_API_URL``), or returns None when no server is to be used.
    """
    if os.environ.get("EXPORTCAST_NO_PRESTART") == "1" or os.environ.get("PREFECT_API_URL"):
        return lambda: None
    server = TemporaryServer()
    server.launch()

    def wait() -> str | None:
        if not _wanted():
            server.stop()
            return None
        from prefect.settings import get_current_settings

        timeout = float(get_current_settings().server.ephemeral.startup_timeout_seconds)
        return server.wait(timeout)

    return wait


def prepare_database() -> str:
    """Migrate the temporary server's own SQLite database now (``make install``).

    A run without ``PREFECT_API_URL`` starts Prefect's temporary server on
    ``$PREFECT_HOME/prefect.db``, which that server creates and migrates on its first start
    (about 7 s of a machine's first run). This runs ``prefect server database upgrade -y``
    ahead (a no-op on a current database, about 3 s), but only for that default database:
    nothing when an API URL is set (runs use that server), the temporary server is off, or the
    database is configured elsewhere (another server's database is for that server, at its own
    Prefect version, to migrate).

    Returns:
        What was done, one line for the install's output (no database URL: it may hold a
        password).

    Raises:
        PrefectServerError: The upgrade failed (the end of its error output in the message).
    """
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url or not settings.server.ephemeral.enabled:
        return "Prefect database: left alone (runs use PREFECT_API_URL's server, or none)"
    configured = settings.server.database.connection_url
    url = configured.get_secret_value() if configured is not None else ""
    db = Path(settings.home) / "prefect.db"
    if url != f"sqlite+aiosqlite:///{db}":
        return "Prefect database: left alone (configured elsewhere than PREFECT_HOME)"
    done = subprocess.run(
        [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-2000:]
        raise PrefectServerError(f"prefect server database upgrade failed: {tail}")
    return f"Prefect database: {db} migrated"


if __name__ == "__main__":  # make install
    print(prepare_database())
