"""SSH/SFTP to a worker node (paramiko): verified host keys, key auth, ProxyJump, timeouts.

Host keys are checked against a known_hosts file with paramiko's reject rule: an unknown key
or a changed key raises :class:`HostKeyError` naming the host, port and SHA256 fingerprint;
nothing is ever added. Credentials are handed in (:class:`SshCredentials`), built from the
environment (:func:`credentials_from_env`) or, on the Airflow side, from an SSH Connection
(:meth:`SshCredentials.from_parts` takes the hook's username, key object or key file).
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import stat
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko

from ringrift_tasks.sync.hosts import JumpHost, Node

ENV_KEY_FILE = "RINGRIFT_SSH_KEY_FILE"
ENV_KEY_PASSPHRASE = "RINGRIFT_SSH_KEY_PASSPHRASE"
ENV_USER = "RINGRIFT_SSH_USER"
ENV_NO_AGENT = "RINGRIFT_SSH_NO_AGENT"
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
# Largest read one SFTP request carries (OpenSSH serves up to 256 KiB; 32 KiB is safe for all).
_SFTP_REQUEST = 32768


class TransportError(OSError):
    """A node that cannot be reached or talked to; the message names it and why."""


class HostKeyError(TransportError):
    """The node's host key is unknown or differs from known_hosts: the connection is refused."""


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH-style ``SHA256:<base64>`` fingerprint of a public key."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _host_label(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    """Like ``paramiko.RejectPolicy``, with the fingerprint and the fix in the message."""

    def __init__(self, known_hosts: Path, port: int) -> None:
        self.known_hosts = known_hosts
        self.port = port

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        raise HostKeyError(
            f"host key of {hostname} (port {self.port}) is not in {self.known_hosts}: "
            f"refusing to connect ({key.get_name()} {fingerprint(key)}); verify it out of band "
            f"and add it with ssh-keyscan -p {self.port} <host> >> {self.known_hosts}"
        )


@dataclass(frozen=True)
class SshCredentials:
    """How to authenticate: a key object, a key file, the ssh-agent (any that are set).

    ``username`` is used when the node's inventory entry names no user.
    """

    username: str | None = None
    pkey: paramiko.PKey | None = None
    key_filename: str | None = None
    passphrase: str | None = None
    allow_agent: bool = True

    @classmethod
    def from_parts(
        cls,
        *,
        username: str | None = None,
        pkey: paramiko.PKey | None = None,
        key_filename: str | None = None,
        passphrase: str | None = None,
        allow_agent: bool = True,
    ) -> SshCredentials:
        """Credentials from the pieces an Airflow SSH Connection / ``SSHHook`` exposes."""
        if key_filename is not None and not Path(key_filename).expanduser().is_file():
            raise TransportError(f"SSH key file {key_filename} does not exist")
        return cls(username, pkey, key_filename, passphrase, allow_agent)

    def __repr__(self) -> str:  # never print key material or a passphrase
        return (
            f"SshCredentials(username={self.username!r}, pkey={'set' if self.pkey else None}, "
            f"key_filename={self.key_filename!r}, allow_agent={self.allow_agent})"
        )


def credentials_from_env(env: Mapping[str, str] | None = None) -> SshCredentials:
    """Credentials from ``RINGRIFT_SSH_KEY_FILE`` (+ ``RINGRIFT_SSH_KEY_PASSPHRASE``),
    ``RINGRIFT_SSH_USER`` and the ssh-agent (off when ``RINGRIFT_SSH_NO_AGENT`` is set)."""
    env = os.environ if env is None else env
    key = env.get(ENV_KEY_FILE) or None
    return SshCredentials.from_parts(
        username=env.get(ENV_USER) or None,
        key_filename=str(Path(key).expanduser()) if key else None,
        passphrase=env.get(ENV_KEY_PASSPHRASE) or None,
        allow_agent=not env.get(ENV_NO_AGENT),
    )


@dataclass(frozen=True)
class SshSettings:
    """Where the known hosts are and how long to wait (seconds)."""

    known_hosts: Path = DEFAULT_KNOWN_HOSTS
    connect_timeout_s: float = 10.0
    io_timeout_s: float = 60.0


def _client(
    host: str,
    port: int,
    user: str | None,
    creds: SshCredentials,
    settings: SshSettings,
    sock: Any = None,
) -> paramiko.SSHClient:
    known = Path(settings.known_hosts).expanduser()
    if not known.is_file():
        raise HostKeyError(
            f"known_hosts file {known} does not exist: cannot verify {_host_label(host, port)}"
        )
    client = paramiko.SSHClient()
    # Read-only: keys are looked up here, and the reject rule means none is ever saved.
    client.load_system_host_keys(str(known))
    client.set_missing_host_key_policy(_RefuseUnknown(known, port))
    username = user or creds.username
    if not username:
        raise TransportError(f"no SSH user for {_host_label(host, port)}: set it in hosts.yaml")
    t = settings.connect_timeout_s
    try:
        client.connect(
            host,
            port=port,
            username=username,
            pkey=creds.pkey,
            key_filename=creds.key_filename,
            passphrase=creds.passphrase,
            allow_agent=creds.allow_agent,
            look_for_keys=False,
            timeout=t,
            banner_timeout=t,
            auth_timeout=t,
            channel_timeout=t,
            sock=sock,
        )
    except HostKeyError:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise HostKeyError(
            f"host key of {_host_label(host, port)} CHANGED: got {exc.key.get_name()} "
            f"{fingerprint(exc.key)}, known_hosts ({known}) has {fingerprint(exc.expected_key)}; "
            "refusing to connect (possible man-in-the-middle, or the node was reinstalled: "
            "verify and update known_hosts)"
        ) from None
    except paramiko.AuthenticationException as exc:
        client.close()
        raise TransportError(
            f"authentication as {username} on {_host_label(host, port)} failed: {exc}"
        ) from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        client.close()
        raise TransportError(
            f"cannot connect to {_host_label(host, port)}: {type(exc).__name__}: {exc}"
        ) from None
    return client


class NodeConnection:
    """An open SSH session with SFTP to one node (and its jump host, if any)."""

    def __init__(
        self,
        node: Node,
        client: paramiko.SSHClient,
        jump: paramiko.SSHClient | None,
        io_timeout_s: float,
    ) -> None:
        self.node = node
        self.client = client
        self.jump = jump
        self.sftp = client.open_sftp()
        # A stalled link then fails a read instead of hanging the sync pass.
        channel = self.sftp.get_channel()
        if channel is not None:
            channel.settimeout(io_timeout_s)

    # --- files --------------------------------------------------------------------------
    def listdir(self, path: str) -> list[paramiko.SFTPAttributes]:
        """Entries of ``path`` (an absent folder is empty)."""
        try:
            return self.sftp.listdir_attr(path)
        except FileNotFoundError:
            return []

    def read_text(self, path: str, limit: int = 1 << 20) -> str:
        """A small remote text file (``limit`` bytes at most)."""
        with self.sftp.open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8")

    def size(self, path: str) -> int | None:
        """The size in bytes, or None when absent."""
        try:
            st = self.sftp.stat(path)
        except FileNotFoundError:
            return None
        return int(st.st_size or 0)

    def exists(self, path: str) -> bool:
        return self.size(path) is not None

    def makedirs(self, path: str) -> None:
        """``mkdir -p`` on the node."""
        parts = [p for p in path.split("/") if p]
        cur = ""
        for p in parts:
            cur += "/" + p
            try:
                st = self.sftp.stat(cur)
            except FileNotFoundError:
                self.sftp.mkdir(cur)
                continue
            if not stat.S_ISDIR(st.st_mode or 0):
                raise TransportError(f"{self.node.name}: {cur} exists and is not a folder")

    def rename(self, src: str, dst: str) -> None:
        """Atomic rename on the node (replacing ``dst``)."""
        self.sftp.posix_rename(src, dst)

    def touch(self, path: str) -> None:
        """Set the file's times to now (the retention clock of an acknowledged shard)."""
        self.sftp.utime(path, None)

    def remove(self, path: str) -> None:
        self.sftp.remove(path)

    def download(
        self,
        remote: str,
        local: Path,
        *,
        chunk: int = 1 << 20,
        on_chunk: Callable[[int], None] | None = None,
    ) -> int:
        """Copy ``remote`` to ``local``, appending to what ``local`` already holds (resume).

        Reads go in windows of ``chunk`` bytes, each fetched as pipelined SFTP requests
        (``readv``), written and flushed before the next window is asked for; so a dropped
        link loses at most the window in flight. ``on_chunk(local_bytes)`` runs after each
        window (progress). Returns the bytes transferred now.
        """
        local.parent.mkdir(parents=True, exist_ok=True)
        have = local.stat().st_size if local.exists() else 0
        moved = 0
        with self.sftp.open(remote, "rb") as src, open(local, "ab") as dst:
            total = int(src.stat().st_size or 0)
            if have > total:
                raise TransportError(
                    f"{self.node.name}: partial download {local.name} holds {have} bytes but "
                    f"{remote} has only {total}"
                )
            offset = have
            while offset < total:
                end = min(offset + chunk, total)
                requests = [
                    (o, min(_SFTP_REQUEST, end - o)) for o in range(offset, end, _SFTP_REQUEST)
                ]
                for data in src.readv(requests):
                    dst.write(data)
                    moved += len(data)
                dst.flush()
                if have + moved != end:
                    raise TransportError(
                        f"{self.node.name}: {remote} shrank during the download "
                        f"(got {have + moved} of {total} bytes)"
                    )
                offset = end
                if on_chunk is not None:
                    on_chunk(offset)
            os.fsync(dst.fileno())
        return moved

    def close(self) -> None:
        for c in (self.sftp, self.client, self.jump):
            try:
                if c is not None:
                    c.close()
            except Exception:  # closing a dead session: nothing left to release
                pass


@contextmanager
def connect(node: Node, creds: SshCredentials, settings: SshSettings) -> Iterator[NodeConnection]:
    """Open SSH + SFTP to ``node`` (through its jump host when it has one); closes on exit.

    Raises :class:`HostKeyError` for an unknown or changed host key (of the node or of the
    jump host) and :class:`TransportError` when the node cannot be reached or logged into.
    """
    jump_client = None
    sock = None
    if node.jump is not None:
        jump: JumpHost = node.jump
        jump_client = _client(jump.host, jump.port, jump.user, creds, settings)
        try:
            transport = jump_client.get_transport()
            assert transport is not None
            sock = transport.open_channel(
                "direct-tcpip",
                (node.host, node.port),
                ("127.0.0.1", 0),
                timeout=settings.connect_timeout_s,
            )
        except (paramiko.SSHException, OSError, EOFError) as exc:
            jump_client.close()
            raise TransportError(
                f"jump host {node.jump} cannot reach {_host_label(node.host, node.port)}: {exc}"
            ) from None
    try:
        client = _client(node.host, node.port, node.user, creds, settings, sock=sock)
    except BaseException:
        if jump_client is not None:
            jump_client.close()
        raise
    try:
        conn = NodeConnection(node, client, jump_client, settings.io_timeout_s)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        client.close()
        if jump_client is not None:
            jump_client.close()
        raise TransportError(f"{node.name}: cannot open SFTP: {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the session with the node broke (vs. a problem with one file)."""
    return isinstance(exc, TransportError | paramiko.SSHException | EOFError | socket.timeout) or (
        isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError)
    )
