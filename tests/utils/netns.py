"""Hosts on one machine: Linux network namespaces joined by veth pairs to a bridge.

Each :class:`Lab` host is a namespace with one interface and one address of a
private /24 that exists only inside the lab: the bridge lives in a namespace of
its own, so nothing is added to this machine's own network, and no lab address
has a route anywhere else. A process started with :meth:`Lab.popen` sees only
its host's loopback and the lab's addresses, as on a separate machine. The
namespaces are deleted on exit, after every process started in them has been
ended by its PID.

Creating namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and ``ip``
(iproute2); :func:`unavailable` says why a machine cannot, for a skip reason.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from tests.utils.processes import end_process


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603, S607
    if done.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None when they can."""
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CAP_SYS_ADMIN, CAP_NET_ADMIN)"
    probe = f"gp-probe-{os.getpid()}-{secrets.token_hex(2)}"
    try:
        _ip("netns", "add", probe)
    except OSError as exc:
        return f"the kernel refused a network namespace: {exc}"
    try:
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
        _ip("-n", probe, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
    except OSError as exc:
        return f"no bridge or veth pair inside a network namespace: {exc}"
    finally:
        with contextlib.suppress(OSError):
            _ip("netns", "del", probe)
    return None


class Lab:
    """Named hosts on ``10.213.<subnet>.0/24``; use as a context manager."""

    def __init__(self, hosts: Sequence[str], *, subnet: int | None = None) -> None:
        # unique per lab: a namespace a killed run left behind cannot clash with it
        self.tag = f"gp{os.getpid() % 10000}{secrets.token_hex(2)}"
        third = subnet if subnet is not None else os.getpid() % 250
        self.address = {host: f"10.213.{third}.{i + 2}" for i, host in enumerate(hosts)}
        self._made: list[str] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    def ns(self, host: str) -> str:
        return f"{self.tag}-{host}"

    def __enter__(self) -> Lab:
        try:
            switch = self.ns("switch")
            self._add(switch)
            _ip("-n", switch, "link", "add", "br0", "type", "bridge")
            _ip("-n", switch, "link", "set", "br0", "up")
            for i, (host, address) in enumerate(self.address.items()):
                ns = self.ns(host)
                self._add(ns)
                port = f"{self.tag}p{i}"[:15]
                _ip("link", "add", "eth0", "netns", ns, "type", "veth",
                    "peer", "name", port, "netns", switch)  # fmt: skip
                _ip("-n", switch, "link", "set", port, "master", "br0")
                _ip("-n", switch, "link", "set", port, "up")
                _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            self._delete()
            raise
        return self

    def _add(self, ns: str) -> None:
        _ip("netns", "add", ns)
        self._made.append(ns)

    def popen(
        self,
        host: str,
        cmd: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        log: IO[bytes] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` on ``host``; ``ip netns exec`` execs it, so the PID is the command's."""
        proc = subprocess.Popen(  # noqa: S603
            ["ip", "netns", "exec", self.ns(host), *cmd],  # noqa: S607
            env=env,
            cwd=cwd,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self._procs.append(proc)
        return proc

    def run(self, host: str, cmd: Sequence[str], timeout: float, **kwargs: Any) -> str:
        """Run ``cmd`` on ``host`` to its end; its stdout, or AssertionError with stderr."""
        done = subprocess.run(  # noqa: S603
            ["ip", "netns", "exec", self.ns(host), *cmd],  # noqa: S607
            capture_output=True, text=True, timeout=timeout, check=False, **kwargs,
        )  # fmt: skip
        assert done.returncode == 0, f"{host}: {' '.join(cmd)}: {done.stderr[-2000:]}"
        return done.stdout

    def _delete(self) -> None:
        for proc in self._procs:
            try:
                end_process(proc)
            except (OSError, subprocess.SubprocessError):
                pass  # SIGKILL did not end it within 15 s: delete the namespaces anyway
        for ns in reversed(self._made):
            try:
                _ip("netns", "del", ns)
            except OSError:
                pass  # deleting the others matters more; the names carry this PID
        self._made = []

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._delete()
