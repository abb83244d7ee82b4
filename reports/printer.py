"""Print the report's HTML to PDF with one headless Chromium driven over the DevTools protocol.

``chromium --headless --print-to-pdf=<file> <url>`` starts a browser, prints one page and
exits: about 1.1 s for the report, 0.65 s of it Chromium starting and stopping (issue 16).
:class:`PdfPrinter` starts the browser when it is created (a run creates it when it starts
recording its MLflow run, so the browser starts on the second core while the run's own
process records) and prints over the DevTools protocol once the HTML exists: a new tab, the
file's URL, its ``load`` event, then ``Page.printToPDF`` with the parameters that
``--print-to-pdf`` and ``--no-pdf-header-footer`` use (background graphics, the page size of
the report's CSS ``@page``, no header or footer). The PDF is the same as the command-line one
but for its creation dates (2026-12-04: same size, same text, 6 bytes apart).

The protocol runs over a pipe (``--remote-debugging-pipe``: Chromium reads NUL-terminated JSON
messages on its file descriptor 3 and writes its answers on 4), not a TCP port another local
process could connect to. ``/bin/sh`` moves the two pipe ends to 3 and 4 before it executes
Chromium, so this process needs no ``preexec_fn`` (unsafe beside the run's threads). The
profile is a fresh temporary folder, removed when the printer closes, and the switches are the
command line's (``BROWSER_ARGS``): no network, no first-run or sync.

Errors come when printing, never when launching (a run keeps the stage a missing Chromium fails
at): :class:`ChromiumMissingError` without the binary, :class:`PdfError` when Chromium exits,
fails to load or print the page, or takes longer than ``PDF_TIMEOUT_S``; the message holds the
end of Chromium's error output. Nothing is written then (the PDF is renamed into place whole).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from exportcast.features.errors import ExportcastError
from exportcast.flows.io import atomic_write

__all__ = [
    "BROWSER_ARGS",
    "CHROMIUM",
    "PDF_TIMEOUT_S",
    "PRINT_PARAMS",
    "ChromiumMissingError",
    "PdfError",
    "PdfPrinter",
]

CHROMIUM = Path("/usr/bin/chromium")
# A fresh profile and these switches keep headless Chromium off the network.
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PDF_TIMEOUT_S = 180
# What `--print-to-pdf` sends (Chromium's headless command handler), with --no-pdf-header-footer
PRINT_PARAMS = {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}
# Chromium's DevTools pipe on descriptors 3 (commands in) and 4 (answers out)
PIPE_SHELL = 'exec "$@" 3<&0 4>&1 </dev/null >/dev/null'


class PdfError(ExportcastError, RuntimeError):
    """Chromium failed, timed out or wrote no PDF."""


class ChromiumMissingError(ExportcastError, FileNotFoundError):
    """The Chromium binary that prints the PDF is not installed."""


class _Gone(Exception):
    """Chromium closed its end of the pipe (it exited)."""


class PdfPrinter:
    """One headless Chromium, started at once, printing HTML files to PDF (``with`` closes it)."""

    def __init__(self, chromium: Path = CHROMIUM) -> None:
        self.chromium = Path(chromium)
        self._binary = shutil.which(str(chromium))
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (read back on failure)
        self._buffer = bytearray()
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        if self._binary is not None:
            self._launch(self._binary)

    def _launch(self, binary: str) -> None:
        self._profile = tempfile.TemporaryDirectory(
            prefix="exportcast-chromium-", ignore_cleanup_errors=True
        )
        command = [
            "/bin/sh", "-c", PIPE_SHELL, "sh", binary, *BROWSER_ARGS,
            "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}", "about:blank",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr
        )

    def __enter__(self) -> PdfPrinter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def print_pdf(self, html: Path, pdf: Path) -> Path:
        """Print ``html`` (a local file) to ``pdf`` (written atomically); return ``pdf``.

        Raises:
            ChromiumMissingError: The Chromium binary is missing (a ``FileNotFoundError``).
            PdfError: Chromium exited, failed, timed out or printed nothing (a ``RuntimeError``).
        """
        if self._binary is None:
            raise ChromiumMissingError(
                f"cannot print the PDF: Chromium not found at {self.chromium} "
                "(install Debian's chromium package or pass chromium=...)"
            )
        if self._process is None:
            raise PdfError(f"cannot print {Path(html).name}: the PDF printer is closed")
        deadline = time.monotonic() + PDF_TIMEOUT_S
        try:
            data = self._print(Path(html), deadline)
        except _Gone:  # its end of the pipe closed: it is exiting
            try:
                code: int | None = self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            raise PdfError(
                f"{self._binary} exited before printing {Path(html).name} (exit {code}): "
                + self._tail()
            ) from None
        except TimeoutError:
            raise PdfError(
                f"{self._binary} did not print {Path(html).name} within {PDF_TIMEOUT_S} s"
            ) from None
        if not data:
            raise PdfError(f"{self._binary} printed an empty PDF of {Path(html).name}")
        return atomic_write(Path(pdf), lambda tmp: tmp.write_bytes(data))

    def _print(self, html: Path, deadline: float) -> bytes:
        target = self._call("Target.createTarget", {"url": "about:blank"}, deadline)["targetId"]
        attach = {"targetId": target, "flatten": True}
        session = self._call("Target.attachToTarget", attach, deadline)["sessionId"]
        self._call("Page.enable", {}, deadline, session)
        opened = self._call("Page.navigate", {"url": html.resolve().as_uri()}, deadline, session)
        if opened.get("errorText"):
            raise PdfError(f"{self._binary} could not open {html}: {opened['errorText']}")
        self._event("Page.loadEventFired", session, deadline)
        printed = self._call("Page.printToPDF", PRINT_PARAMS, deadline, session)
        self._call("Target.closeTarget", {"targetId": target}, deadline)
        self._events.clear()  # the closed tab's other events (frames, lifecycle) are of no use
        return base64.b64decode(printed["data"])

    def _call(
        self, method: str, params: dict[str, Any], deadline: float, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and return its result (events read meanwhile are kept)."""
        assert self._process is not None
        try:
            sent = self._write(self._process, method, params, session)
        except BrokenPipeError:
            raise _Gone from None
        while True:
            answer = self._message(deadline)
            if answer.get("id") != sent:
                self._events.append(answer)
                continue
            if "error" in answer:
                error = answer["error"]
                raise PdfError(
                    f"{self._binary}: {method} failed: {error.get('message', error)} "
                    f"({error.get('data', '')})".rstrip(" ()")
                )
            result: dict[str, Any] = answer.get("result", {})
            return result

    def _write(
        self,
        process: subprocess.Popen[bytes],
        method: str,
        params: dict[str, Any],
        session: str | None = None,
    ) -> int:
        """Send one command to Chromium (a NUL-terminated JSON message); return its id."""
        assert process.stdin is not None
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(process.stdin.fileno(), json.dumps(message).encode() + b"\0")
        return self._next_id

    def _event(self, method: str, session: str, deadline: float) -> dict[str, Any]:
        """Wait for an event of the session (one read before its command's answer counts)."""
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return event
            self._events.append(self._message(deadline))

    def _message(self, deadline: float) -> dict[str, Any]:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while (end := self._buffer.find(b"\0")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise _Gone
                self._buffer += chunk
        message: dict[str, Any] = json.loads(self._buffer[:end])
        del self._buffer[: end + 1]
        return message

    def _tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        return " | ".join(lines[-5:]) or "no error output"

    def close(self, *, wait: bool = True) -> None:
        """Close the browser (5 s, then killed) and remove its profile. Safe to call twice.

        ``wait=False`` asks Chromium to close and returns at once (it takes about 0.13 s):
        a thread waits for it and removes the profile, and the interpreter waits for that
        thread before it exits (not a daemon).
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):  # a broken pipe too: it is exiting anyway
                self._write(process, "Browser.close", {})
        if wait:
            self._reap(process)
        else:
            threading.Thread(
                target=self._reap, args=(process,), name="exportcast-chromium-close"
            ).start()

    def _reap(self, process: subprocess.Popen[bytes] | None) -> None:
        """Wait for Chromium to exit (kill it after 5 s), close the pipes, remove the profile."""
        if process is not None:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    pipe.close()
        profile, self._profile = self._profile, None
        if profile is not None:
            profile.cleanup()
        self._stderr.close()
