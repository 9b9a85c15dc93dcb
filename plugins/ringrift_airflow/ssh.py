"""SSH credentials for the node sync from Airflow Connections (else the environment).

A node's key is looked up, first match wins, in:

1. the Connection its ``hosts.yaml`` entry names (``ssh_conn_id``; a missing one is an
   error, not a silent fallback),
2. ``ringrift_ssh_<node name>``, then ``ringrift_ssh`` (one key for the whole cluster),
3. the environment / ssh-agent (``credentials_from_env``).

From a Connection of type ``ssh``: ``login`` is the user (when ``hosts.yaml`` names
none), the extras ``private_key`` (PEM text) with ``private_key_passphrase`` or
``key_file`` give the key, ``allow_agent: false`` turns the agent off. Host and port stay
in ``hosts.yaml``; host keys are always checked against ``sync.known_hosts`` (the
Connection's ``no_host_key_check`` is ignored: a sync never trusts an unknown host).
Password logins are not supported.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import paramiko

from ringrift_tasks.sync.hosts import Node
from ringrift_tasks.sync.transport import SshCredentials, TransportError, credentials_from_env

log = logging.getLogger(__name__)

CLUSTER_CONN_ID = "ringrift_ssh"
_KEY_TYPES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


def parse_private_key(text: str, passphrase: str | None, conn_id: str) -> paramiko.PKey:
    """A paramiko key from PEM / OpenSSH text; ``TransportError`` naming the Connection."""
    errors = []
    for kind in _KEY_TYPES:
        try:
            return kind.from_private_key(io.StringIO(text), password=passphrase)
        except (paramiko.SSHException, ValueError) as exc:
            errors.append(f"{kind.__name__}: {exc}")
    raise TransportError(
        f"Connection {conn_id}: extra private_key is not a readable Ed25519, ECDSA or RSA "
        f"key ({'; '.join(errors)})"
    )


def credentials_from_connection(conn: Any) -> SshCredentials:
    """``SshCredentials`` from an Airflow Connection (see the module doc)."""
    extra = conn.extra_dejson or {}
    passphrase = extra.get("private_key_passphrase") or None
    text = extra.get("private_key")
    pkey = parse_private_key(text, passphrase, conn.conn_id) if text else None
    return SshCredentials.from_parts(
        username=conn.login or None,
        pkey=pkey,
        key_filename=extra.get("key_file") or None,
        passphrase=passphrase,
        allow_agent=str(extra.get("allow_agent", "true")).lower() != "false",
    )


def _connection(conn_id: str) -> Any | None:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def node_credentials(node: Node) -> SshCredentials:
    """The credentials to reach ``node`` (the lookup order of the module doc)."""
    if node.ssh_conn_id:
        conn = _connection(node.ssh_conn_id)
        if conn is None:
            raise TransportError(
                f"{node.name}: hosts.yaml names Airflow Connection {node.ssh_conn_id!r}, "
                "which does not exist"
            )
        return credentials_from_connection(conn)
    for conn_id in (f"{CLUSTER_CONN_ID}_{node.name}", CLUSTER_CONN_ID):
        conn = _connection(conn_id)
        if conn is not None:
            log.info("%s: SSH credentials from Airflow Connection %s", node.name, conn_id)
            return credentials_from_connection(conn)
    log.info("%s: no Airflow SSH Connection; SSH credentials from the environment", node.name)
    return credentials_from_env()
