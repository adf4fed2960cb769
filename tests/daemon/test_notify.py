"""The systemd notify protocol over a real NOTIFY_SOCKET datagram socket."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.daemon.notify import Notifier, NotifyEnv, keep_watchdog


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """What systemd does: a bound AF_UNIX datagram socket whose path goes in $NOTIFY_SOCKET."""
    path = str(tmp_path / "notify.sock")
    assert len(path) < 100, "AF_UNIX paths are limited to 107 bytes"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(5)
    try:
        yield sock, path
    finally:
        sock.close()


def receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_ready_watchdog_and_stopping_reach_systemd(
    systemd_socket: tuple[socket.socket, str],
) -> None:
    sock, path = systemd_socket
    with Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "60000000"}) as notifier:
        assert notifier.ready(status="watching 12 feeds")
        assert receive(sock) == ["READY=1", "STATUS=watching 12 feeds"]
        assert notifier.watchdog()
        assert receive(sock) == ["WATCHDOG=1"]
        assert notifier.stopping()
        assert receive(sock) == ["STOPPING=1"]


def test_status_text_is_kept_on_one_line(systemd_socket: tuple[socket.socket, str]) -> None:
    sock, path = systemd_socket
    with Notifier(NotifyEnv(socket_path=path)) as notifier:
        notifier.status("2 feeds unhealthy:\nkompas\ndetik")
        assert receive(sock) == ["STATUS=2 feeds unhealthy: kompas detik"]


def test_abstract_socket_names_starting_with_at_are_supported() -> None:
    name = f"pantau-test-{os.getpid()}-{id(object())}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(b"\0" + name.encode())
    sock.settimeout(5)
    try:
        with Notifier.from_env({"NOTIFY_SOCKET": "@" + name}) as notifier:
            assert notifier.ready()
            assert receive(sock) == ["READY=1"]
    finally:
        sock.close()


def test_without_notify_socket_everything_is_a_quiet_no_op() -> None:
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    assert notifier.watchdog_interval() is None


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "60000000"})
    assert notifier.watchdog_interval() == 30.0
    assert Notifier.from_env({"NOTIFY_SOCKET": "/run/x"}).watchdog_interval() is None


def test_watchdog_meant_for_another_process_is_ignored() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}
    assert Notifier(NotifyEnv.from_env(env, pid=4242)).watchdog_interval() is None
    mine = {**env, "WATCHDOG_PID": "4242"}
    assert Notifier(NotifyEnv.from_env(mine, pid=4242)).watchdog_interval() == 30.0


def test_a_vanished_socket_does_not_crash_the_daemon(tmp_path: Path) -> None:
    notifier = Notifier(NotifyEnv(socket_path=str(tmp_path / "gone.sock")))
    assert notifier.ready() is False
    notifier.close()


async def test_watchdog_pings_only_while_healthy(
    systemd_socket: tuple[socket.socket, str],
) -> None:
    sock, path = systemd_socket
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    healthy = [True, True, False]

    def check() -> tuple[bool, list[str]]:
        ok = healthy.pop(0) if healthy else False
        return ok, [] if ok else ["scheduler: last heartbeat 300s ago"]

    with Notifier(NotifyEnv(socket_path=path)) as notifier:
        task = asyncio.create_task(keep_watchdog(notifier, check, interval=0.01))
        got = [await asyncio.wait_for(loop.sock_recv(sock, 4096), 5) for _ in range(3)]
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert got[:2] == [b"WATCHDOG=1", b"WATCHDOG=1"]
    assert got[2] == b"STATUS=unhealthy: scheduler: last heartbeat 300s ago"
