"""One retrying HTTP GET for the connectors, with keys kept out of every message.

Transient faults (timeouts, connection errors, HTTP 429, HTTP 5xx) are retried with
exponential backoff, at most ``HttpPolicy.attempts`` times; a 429's ``Retry-After`` (seconds)
is honoured up to ``max_wait``. Anything else fails at once. Errors name the source and the
request with every secret replaced by ``***`` (query parameters in ``secret_params`` and all
headers are never printed); httpx's own request log lines (which carry the full URL) are
silenced below WARNING.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from exportcast.features.errors import ExportcastError

__all__ = ["DEFAULT_POLICY", "ConnectorError", "HttpPolicy", "Response", "get", "redacted_url"]

# httpx logs "HTTP Request: GET <full url>" at INFO: that URL can carry an API key.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class ConnectorError(ExportcastError, RuntimeError):
    """A fetch failed; the message names source, request (without keys) and what went wrong."""


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts and retries of a fetch.

    Attributes:
        timeout: Seconds per request (connect and read).
        attempts: Tries in all, for transient faults.
        backoff: First wait between tries (doubles each time).
        max_wait: Longest wait honoured, also for ``Retry-After``.
    """

    timeout: float = 30.0
    attempts: int = 4
    backoff: float = 1.0
    max_wait: float = 60.0


DEFAULT_POLICY = HttpPolicy()


@dataclass(frozen=True)
class Response:
    """A successful answer: status, body and the request as it may be shown."""

    status: int
    body: bytes
    url: str


def redacted_url(url: str, params: Mapping[str, object], secret_params: tuple[str, ...]) -> str:
    """The request URL with the values of ``secret_params`` replaced by ``***``."""
    shown = {k: ("***" if k in secret_params else v) for k, v in params.items()}
    return f"{url}?{urlencode(shown, safe=':+,*')}" if shown else url


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def get(
    source: str,
    url: str,
    *,
    params: Mapping[str, object] | None = None,
    headers: Mapping[str, str] | None = None,
    secret_params: tuple[str, ...] = (),
    policy: HttpPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = lambda _: None,
) -> Response:
    """GET with retries of transient faults.

    Args:
        source: Connector name for messages (``imts``, ``comtrade``...).
        url: The URL without query.
        params: Query parameters (values in ``secret_params`` are never shown).
        headers: Request headers (never shown; keys go here when the API allows it).
        secret_params: Names of query parameters that hold secrets.
        policy: Timeouts and retries.
        sleep: Waits between tries (tests pass a recorder).
        log: Progress printer (retries are reported).

    Returns:
        The 2xx answer.

    Raises:
        ConnectorError: A non-transient HTTP status, or transient faults on every try.
    """
    params = dict(params or {})
    shown = redacted_url(url, params, secret_params)
    wait = policy.backoff
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            with httpx.Client(timeout=policy.timeout, follow_redirects=True) as client:
                response = client.get(url, params=params, headers=dict(headers or {}))
        except httpx.TimeoutException:
            problem = f"timed out after {policy.timeout:g} s"
            delay = wait
        except httpx.TransportError as exc:
            problem = f"connection failed ({type(exc).__name__})"
            delay = wait
        else:
            status = response.status_code
            if 200 <= status < 300:
                return Response(status, response.content, shown)
            if status == 429:
                problem = "HTTP 429 Too Many Requests"
                delay = _retry_after(response, wait)
            elif status >= 500:
                problem = f"HTTP {status}"
                delay = wait
            else:
                raise ConnectorError(
                    f"{source}: GET {shown}: HTTP {status}; expected 200 (check the request "
                    "and the API key's access)"
                )
        if attempt == policy.attempts:
            break
        delay = min(delay, policy.max_wait)
        log(f"{source}: {problem}; retry {attempt}/{policy.attempts - 1} in {delay:g} s")
        sleep(delay)
        wait *= 2
    raise ConnectorError(
        f"{source}: GET {shown}: {problem} on all {policy.attempts} tries; the service is "
        "busy or down, try again later"
    )
