"""The node inventory: which worker machines hold self-play shards and how to reach them.

``config/hosts.yaml`` lists nodes (name, host, port, user, data directory, queues, an optional
jump host). It never holds credentials: keys come from the environment, the ssh-agent or an
Airflow SSH Connection (``ssh_conn_id`` names one), see :mod:`ringrift_tasks.sync.transport`.
:func:`load_inventory` validates the file and raises :class:`InventoryError` naming the node
and the key that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_JUMP = re.compile(r"^(?:(?P<user>[^@:\s]+)@)?(?P<host>[^@:\s]+)(?::(?P<port>\d{1,5}))?$")


class InventoryError(ValueError):
    """The inventory file is unusable; the message names the file, node and key."""


class JumpHost(BaseModel):
    """A bastion to tunnel through (OpenSSH ``ProxyJump [user@]host[:port]``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str
    port: int = 22
    user: str | None = None

    @classmethod
    def parse(cls, spec: str) -> JumpHost:
        """``[user@]host[:port]`` -> JumpHost; ``ValueError`` naming the spec otherwise."""
        m = _JUMP.match(spec.strip())
        if m is None:
            raise ValueError(f"expected [user@]host[:port], got {spec!r}")
        port = int(m["port"]) if m["port"] else 22
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} of {spec!r} is outside 1-65535")
        return cls(host=m["host"], port=port, user=m["user"])

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        return f"{user}{self.host}:{self.port}"


class Node(BaseModel):
    """One worker machine. ``data_dir`` is its ``RINGRIFT_HOME`` (absolute, on the node):
    self-play seals shards into ``<data_dir>/shards/incoming``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    name: str
    host: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    user: str | None = None
    data_dir: str
    queues: tuple[str, ...] = ("selfplay",)
    jump: JumpHost | None = None
    # Name of an Airflow SSH Connection holding this node's key (the DAG resolves it).
    ssh_conn_id: str | None = None

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"expected 1-64 letters, digits, '.', '_' or '-' (a file-name-safe id), "
                f"got {value!r}"
            )
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not PurePosixPath(value).is_absolute():
            raise ValueError(f"expected an absolute path on the node, got {value!r}")
        return value.rstrip("/") or "/"

    @field_validator("queues", mode="before")
    @classmethod
    def _queues_list(cls, value: Any) -> Any:
        if isinstance(value, list):
            return tuple(value)
        return value

    @field_validator("jump", mode="before")
    @classmethod
    def _jump_spec(cls, value: Any) -> Any:
        if isinstance(value, str):
            return JumpHost.parse(value)
        return value

    @property
    def incoming_dir(self) -> str:
        """Where the node's self-play leaves sealed shards."""
        return f"{self.data_dir}/shards/incoming"

    @property
    def acked_dir(self) -> str:
        """Where shards merged by the coordinator wait out the retention period."""
        return f"{self.data_dir}/shards/acked"

    @property
    def rejected_dir(self) -> str:
        """Where shards the coordinator quarantined are kept on the node (never deleted)."""
        return f"{self.data_dir}/shards/rejected"

    def __str__(self) -> str:
        user = f"{self.user}@" if self.user else ""
        via = f" via {self.jump}" if self.jump else ""
        return f"{self.name} ({user}{self.host}:{self.port}{via})"


class Inventory(BaseModel):
    """Every node, in file order, names unique."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nodes: tuple[Node, ...] = ()

    def node(self, name: str) -> Node:
        """The node called ``name``; ``KeyError`` naming the known ones otherwise."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"no node {name!r} in the inventory (known: {self.names() or 'none'})")

    def names(self) -> list[str]:
        return [n.name for n in self.nodes]

    def serving(self, queue: str) -> list[Node]:
        """Nodes whose workers take tasks from ``queue``."""
        return [n for n in self.nodes if queue in n.queues]


def _where(nodes: list[Any], loc: tuple[Any, ...]) -> str:
    """'nodes[1] (gpu-2): port' for a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        i = loc[1]
        raw = nodes[i] if i < len(nodes) else None
        name = raw.get("name") if isinstance(raw, Mapping) else None
        label = f"nodes[{i}]" + (f" ({name})" if isinstance(name, str) else "")
        rest = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        return f"{label}: {rest}" if rest else label
    return ".".join(str(p) for p in loc) or "(top level)"


def parse_inventory(data: Any, *, source: str = "<inventory>") -> Inventory:
    """Validate already-parsed YAML data; :class:`InventoryError` names the node and key."""
    if data is None:
        return Inventory()
    if not isinstance(data, Mapping):
        raise InventoryError(f"{source}: expected a mapping with a 'nodes' list, got {data!r}")
    raw_nodes = data.get("nodes") or []
    if not isinstance(raw_nodes, list):
        raise InventoryError(f"{source}: nodes: expected a list of nodes, got {raw_nodes!r}")
    try:
        inv = Inventory.model_validate({**data, "nodes": raw_nodes})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            got = err.get("input")
            got_txt = "" if isinstance(got, Mapping) else f" (got {got!r})"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{source}: {_where(raw_nodes, tuple(err['loc']))}: {msg}{got_txt}")
        raise InventoryError("\n".join(lines)) from None
    seen: set[str] = set()
    for i, n in enumerate(inv.nodes):
        if n.name in seen:
            raise InventoryError(f"{source}: nodes[{i}] ({n.name}): name: duplicate node name")
        seen.add(n.name)
    return inv


def load_inventory(path: Path | str) -> Inventory:
    """Read and validate the inventory YAML at ``path`` (absent file: ``InventoryError``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read the node inventory: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InventoryError(f"{path}: YAML syntax error: {exc}") from None
    return parse_inventory(data, source=str(path))
