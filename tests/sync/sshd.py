"""Real OpenSSH servers for the sync tests: one ``sshd`` per simulated worker node.

Each node gets its own host key, data directory, ``sshd_config`` and loopback port; the
client logs in with a key generated for the session. A ``known_hosts`` file lists the nodes'
keys as ``[127.0.0.1]:<port>``. Nothing here fakes SSH: paramiko talks to /usr/sbin/sshd.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
# sshd refuses to start as root without its privilege-separation directory (the Debian
# service creates it at boot; a container has none).
PRIVSEP_DIR = Path("/run/sshd")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new key pair at ``path`` / ``path.pub`` (no passphrase)."""
    path.unlink(missing_ok=True)
    Path(f"{path}.pub").unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", path.name, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd on port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                if s.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd on port {port} did not answer within {timeout} s")


@dataclass
class SshdNode:
    """One simulated worker node: an sshd serving ``data_dir`` on a loopback port."""

    name: str
    root: Path
    authorized_keys: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log_file: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file = self.root / "sshd.log"
        if not self.host_key.exists():
            keygen(self.host_key)

    @property
    def data_dir(self) -> Path:
        return self.root / "home"

    @property
    def incoming(self) -> Path:
        return self.data_dir / "shards" / "incoming"

    @property
    def acked(self) -> Path:
        return self.data_dir / "shards" / "acked"

    @property
    def rejected(self) -> Path:
        return self.data_dir / "shards" / "rejected"

    @property
    def host_key(self) -> Path:
        return self.root / "ssh_host_ed25519_key"

    def known_hosts_line(self) -> str:
        kind, blob = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {blob}\n"

    def _write_config(self) -> Path:
        cfg = self.root / "sshd_config"
        cfg.write_text(
            "\n".join(
                [
                    "ListenAddress 127.0.0.1",
                    f"Port {self.port}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    f"PidFile {self.root / 'sshd.pid'}",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "PubkeyAuthentication yes",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "UsePAM no",
                    "AllowTcpForwarding yes",
                    "Subsystem sftp internal-sftp",
                    "LogLevel ERROR",
                    "",
                ]
            )
        )
        return cfg

    def start(self) -> None:
        """Start sshd (the same port as before after a ``stop``; a new one the first time)."""
        if self.proc is not None:
            return
        if os.geteuid() == 0:
            PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        for _attempt in range(5):
            if not self.port:
                self.port = free_port()
            cfg = self._write_config()
            with open(self.log_file, "ab") as log:
                proc = subprocess.Popen(
                    [SSHD, "-D", "-e", "-f", str(cfg)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stop() takes children too
                )
            try:
                _wait_port(self.port, proc)
            except RuntimeError:
                _kill_group(proc)
                self.port = 0  # someone took the port: pick another
                continue
            self.proc = proc
            return
        raise RuntimeError(f"sshd for {self.name} did not start; see {self.log_file}")

    def stop(self) -> None:
        """Stop sshd and every session it serves."""
        if self.proc is not None:
            sessions = _descendants(self.proc.pid)
            _kill_group(self.proc)
            _kill_all(sessions)
            self.proc = None

    def drop_sessions(self) -> int:
        """Kill the processes serving open connections (the listener stays); returns how many.

        sshd puts each connection in its own session (setsid), so they are found by parentage.
        """
        if self.proc is None:
            return 0
        sessions = _descendants(self.proc.pid)
        _kill_all(sessions)
        return len(sessions)

    def change_host_key(self) -> None:
        """The node is 'reinstalled': a new host key (known_hosts is not told)."""
        keygen(self.host_key)
        if self.proc is not None:
            self.stop()
            self.start()


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first found through /proc parent links)."""
    parent: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue  # ended while we looked
        parent[int(d.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found.extend(kids)
        frontier.extend(kids)
    return found


def _kill_all(pids: list[int]) -> None:
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@dataclass
class SshCluster:
    """Several nodes sharing one client key and one known_hosts file."""

    root: Path
    nodes: dict[str, SshdNode] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.client_key = keygen(self.root / "id_client")
        self.authorized_keys = self.root / "authorized_keys"
        shutil.copy(f"{self.client_key}.pub", self.authorized_keys)
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text("")

    def add(self, name: str, *, trusted: bool = True) -> SshdNode:
        """Start a node; ``trusted``: its key goes into known_hosts."""
        node = SshdNode(name, self.root / name, self.authorized_keys)
        node.start()
        self.nodes[name] = node
        if trusted:
            with open(self.known_hosts, "a") as fh:
                fh.write(node.known_hosts_line())
        return node

    def user(self) -> str:
        return getpass.getuser()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
