"""The node inventory: a typed, validated hosts.yaml with errors that name node and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ringrift_tasks.config import REPO_ROOT
from ringrift_tasks.sync.hosts import InventoryError, JumpHost, load_inventory, parse_inventory

GOOD = """
nodes:
  - name: gpu-1
    host: gpu-1.example.net
    user: ringrift
    data_dir: /srv/ringrift/
    queues: [selfplay, cuda]
  - name: cpu-7
    host: 10.0.3.7
    port: 2222
    data_dir: /home/r/.ringrift
    jump: ops@bastion.example.net:2200
"""


def test_a_valid_inventory_loads_with_defaults_and_jump_hosts(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(GOOD)
    inv = load_inventory(path)
    gpu, cpu = inv.nodes
    assert (gpu.port, gpu.data_dir, gpu.queues, gpu.jump) == (
        22,
        "/srv/ringrift",
        ("selfplay", "cuda"),
        None,
    )
    assert cpu.jump == JumpHost(host="bastion.example.net", port=2200, user="ops")
    assert cpu.incoming_dir == "/home/r/.ringrift/shards/incoming"
    assert [n.name for n in inv.serving("cuda")] == ["gpu-1"]


def test_the_committed_example_is_a_valid_empty_inventory() -> None:
    assert load_inventory(REPO_ROOT / "config" / "hosts.yaml").nodes == ()


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("nodes:\n  - {name: a, host: h, port: 0, data_dir: /d}\n", "nodes[0] (a): port"),
        ("nodes:\n  - {name: a, host: h, data_dir: rel/dir}\n", "nodes[0] (a): data_dir"),
        ("nodes:\n  - {name: a, host: h, data_dir: /d, password: x}\n", "nodes[0] (a): password"),
        ("nodes:\n  - {name: 'a b', host: h, data_dir: /d}\n", "nodes[0] (a b): name"),
        ("nodes:\n  - {name: a, data_dir: /d}\n", "nodes[0] (a): host"),
        ("nodes:\n  - {name: a, host: h, data_dir: /d, jump: 'x@@y'}\n", "nodes[0] (a): jump"),
        (
            "nodes:\n  - {name: a, host: h, data_dir: /d}\n  - {name: a, host: g, data_dir: /e}\n",
            "nodes[1] (a): name: duplicate",
        ),
        ("nodes: 3\n", "nodes: expected a list"),
    ],
)
def test_a_bad_entry_is_named_by_node_and_key(
    tmp_path: Path, yaml_text: str, expected: str
) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml_text)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    assert expected in str(err.value) and str(path) in str(err.value)


def test_a_missing_file_is_an_inventory_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "absent.yaml")


def test_an_empty_document_is_an_empty_inventory() -> None:
    assert parse_inventory(None).nodes == ()
