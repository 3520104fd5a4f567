"""`routing-engine serve` with several workers hands them a listening socket with Nagle's algorithm off."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from routing_engine.api import serving


def test_the_socket_shared_by_several_workers_has_tcp_nodelay_so_answers_do_not_wait_for_delayed_acks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[int, int]] = []

    class Supervisor:
        def __init__(self, config: Any, sockets: list[socket.socket]) -> None:
            assert config.workers == 2
            seen.extend((s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), s.family) for s in sockets)

        def run(self) -> None:
            pass

    monkeypatch.setattr(serving, "Multiprocess", Supervisor)
    serving.run(host="127.0.0.1", port=0, workers=2)
    assert seen == [(1, socket.AF_INET)]
