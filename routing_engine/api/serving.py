"""Run the service under uvicorn: one process, or a supervisor and `workers` processes on one socket.

With several workers uvicorn binds the listening socket itself and leaves Nagle's algorithm on for the
connections it accepts (uvicorn issue #3149): every keep-alive answer then waits for the client's delayed
ACK, about 40 ms. Here the socket gets TCP_NODELAY before the workers start, and accepted connections
inherit it.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "routing_engine.api.main:create_app"


def run(*, host: str, port: int, workers: int) -> None:
    """Serve `create_app()` until interrupted; exits with uvicorn's code if it cannot start."""
    # The app logs one JSON line per request itself; uvicorn's access log would repeat it.
    config = uvicorn.Config(APP, factory=True, host=host, port=port, workers=workers, access_log=False)
    if workers == 1:
        uvicorn.run(APP, factory=True, host=host, port=port, access_log=False)
        return
    listener = config.bind_socket()
    if listener.family in (socket.AF_INET, socket.AF_INET6):
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Multiprocess(config, sockets=[listener]).run()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
