"""The stand-in's HTTP server: a threading server on 127.0.0.1 whose handler hands each request to
`_Serving.answer` and writes the answer (or drops the connection, or holds it, as told)."""

from __future__ import annotations

import contextlib
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standins.economic.serving import _Serving
from standins.economic.wire import _REASONS, dumps

# --- the HTTP handler -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # 16 clients connecting at once must not overflow the listen backlog
    daemon_threads = True


def _handler_for(standin: _Serving) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "EconomicStandin/1.0"
        timeout = 60

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            answer = standin.answer(self.command, self.path, self.headers, raw)
            if answer.hang is not None:
                standin._stopping.wait(answer.hang)
            elif answer.delay > 0:
                time.sleep(answer.delay)
            if answer.drop:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            payload = b"" if answer.body is None else dumps(answer.body).encode("utf-8")
            reason = _REASONS.get(answer.status) or self.responses.get(answer.status, ("",))[0]
            head = [
                f"{self.protocol_version} {answer.status} {reason}",
                f"Server: {self.version_string()}",
                f"Date: {self.date_time_string()}",
                *(f"{name}: {value}" for name, value in answer.headers.items()),
                *(["Content-Type: application/json; charset=utf-8"] if answer.body is not None else []),
                f"Content-Length: {len(payload)}",
                *(["Connection: close"] if self.close_connection else []),
            ]
            try:
                # Head and body in one write: two small writes meet the client's delayed ACK (~40 ms).
                self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
            except OSError:
                self.close_connection = True

        def setup(self) -> None:
            super().setup()
            with contextlib.suppress(OSError):
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler
