"""The test stacks' ports (`devstack.processes.free_port`) come from below the kernel's
ephemeral range, which outgoing connections draw their local ports from: a port handed out
there could be taken by one before the child binds it."""

from __future__ import annotations

import socket

from incident_sync.devstack.processes import _ephemeral_low, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    low = _ephemeral_low()
    ports = {free_port() for _ in range(20)}
    assert all(1024 <= p < low for p in ports)
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", port))
