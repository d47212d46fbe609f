"""Run the service under uvicorn on a socket bound beforehand, so its address is known (and an
address in use is reported) before any worker starts."""

from __future__ import annotations

import signal
import socket

import uvicorn

from grader.service.app import create_app
from grader.service.service import Service

GRACEFUL_SHUTDOWN_SECONDS = 30  # requests in flight get this long to finish


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP explicitly: asyncio turns Nagle's algorithm off only on connections whose
    # socket says so, and with it on, each answer waits 40 ms for the client's delayed ACK.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


def serve(service: Service, listener: socket.socket) -> None:
    """Answer HTTP for a started `service` on `listener` until SIGINT or SIGTERM, then stop it."""
    config = uvicorn.Config(
        create_app(service),
        log_level="info",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    # uvicorn stops on SIGINT or SIGTERM, then raises the signal again for the handler it found:
    # this one lets the service stop in order and the command exit with 0.
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, lambda number, frame: None)
    try:
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        service.stop()
