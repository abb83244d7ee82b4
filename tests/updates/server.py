"""A tiny HTTP server on 127.0.0.1 (ephemeral port) that replays recorded response bodies.

Each route (URL path) has a queue of answers ``(status, headers, body, delay_s)``; the last one
repeats. Every request is recorded (path, query, headers) so tests can check what was sent.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

Answer = tuple[int, dict[str, str], bytes, float]


class ReplayServer:
    """Start with ``with ReplayServer() as srv:``; ``srv.url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Answer]] = {}
        self.requests: list[dict] = []
        self.hits: dict[str, int] = defaultdict(int)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                server.requests.append(
                    {"path": parts.path, "query": parts.query, "headers": dict(self.headers)}
                )
                answers = server.routes.get(parts.path) or [(404, {}, b"not found", 0.0)]
                i = min(server.hits[parts.path], len(answers) - 1)
                server.hits[parts.path] += 1
                status, headers, body, delay = answers[i]
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, paid by every test
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def route(self, path: str, *answers: Answer) -> None:
        """Answers for ``path``, in order (the last repeats)."""
        self.routes[path] = list(answers)

    def __enter__(self) -> ReplayServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
