"""The RingRift page (``plugins/ringrift_airflow/ui.py``) on a real SQLite store.

The page's app is driven with FastAPI's test client: on a loop home filled through the
library (games, matches, two promotions, gate verdicts, the trend plot) and on a fresh one.
The last test builds Airflow's own api-server app in-process, with the repo's plugins
folder, and checks that the page is mounted at ``/ringrift`` behind Airflow's login and that
the UI's navigation lists it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ringrift_airflow.ui import create_app

from ringrift_tasks.config import RingriftConfig, load_config
from ringrift_tasks.evaluation.match import model_agent_name
from ringrift_tasks.store.db import open_store
from tests.airflow.loop_history import (
    CONFIG,
    OTHER_CONFIG,
    WORKER,
    History,
    write_history,
)


@pytest.fixture
def cfg(loop_home: Path) -> RingriftConfig:
    return load_config()


@pytest.fixture
def client(cfg: RingriftConfig) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


@pytest.fixture
def history(cfg: RingriftConfig) -> History:
    return write_history(cfg)


def _card(html: str, config: str) -> str:
    """The HTML of one config's card."""
    m = re.search(rf'<section class="card" id="{config}">(.*?)</section>', html, re.S)
    assert m, f"no card for {config}"
    return m.group(1)


def test_page_shows_best_model_ladder_trend_and_decisions(
    client: TestClient, history: History
) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/html")
    card = _card(resp.text, CONFIG)

    best = model_agent_name(history.best)
    assert f'<code title="{history.best}">{best}</code>' in card
    # Ladder: best first (it is the strongest agent of the log), marked, then the rest.
    ladder = re.findall(r"<td><code>([^<]+)</code>", card)
    assert ladder[0] == best
    assert set(ladder) == {best, model_agent_name(history.first_best), "heuristic", "random"}
    assert ladder[-1] == "random"
    assert re.search(rf'<tr class="best">.*?<code>{re.escape(best)}</code>', card, re.S)
    # Pool size and new games (every game was merged after the last training).
    assert re.search(r'games in pool</div><div class="value">6<', card)
    assert re.search(r'new since training</div><div class="value">6<', card)
    # The last training gate and the last promotion with its evidence.
    assert "Last training gate" in card and "6 new games &gt;= 4" in card
    assert "SPRT accepted after 64 games" in card
    assert "<dt>wins</dt><dd>41</dd>" in card
    assert f"<dt>best</dt><dd>{history.first_best[:12]}</dd>" in card
    assert f'src="trend/{CONFIG}.png?v=' in card
    # A config that is not enabled but has games gets its own card.
    assert "not enabled" in _card(resp.text, OTHER_CONFIG)
    # Node health: this machine, sampled now, and the worker the data sync last reached.
    nodes = re.search(r'<table class="nodes">(.*?)</table>', resp.text, re.S)
    assert nodes and f"<code>{WORKER}</code>" in nodes.group(1)
    assert '<span class="badge bad">critical</span>' in nodes.group(1)


def test_stored_text_is_escaped(client: TestClient, history: History) -> None:
    html = client.get("/").text
    assert "(&lt; 3600 s) &lt;b&gt;&amp;" in _card(html, OTHER_CONFIG)
    assert "<b>&" not in html


def test_json_snapshot_agrees_with_the_store(
    client: TestClient, cfg: RingriftConfig, history: History
) -> None:
    body = client.get("/api/dashboard").json()
    by_config = {c["config"]: c for c in body["configs"]}
    assert list(by_config) == [CONFIG, OTHER_CONFIG]  # canonical order of the 12
    c = by_config[CONFIG]
    with open_store(cfg.store_url) as store:
        ratings = store.elo.ratings(CONFIG)
        assert c["games"] == store.pool.count(CONFIG) == history.games
    assert c["best"]["model_id"] == history.best
    assert [(e["agent"], round(e["elo"], 6)) for e in c["ladder"]] == [
        (r.agent, round(r.elo, 6)) for r in ratings
    ]
    assert c["promotion"]["passed"] is True and c["promotion"]["evidence"]["games"] == 64
    assert c["training"]["run_id"] == "scheduled__gate"
    assert by_config[OTHER_CONFIG]["promotion"]["passed"] is False
    assert by_config[OTHER_CONFIG]["games"] == history.other_games
    assert body["node_scope"] == "cluster"
    local, healthy, worker = body["nodes"]
    assert local["role"] == "this node" and local["level"] in ("ok", "warning", "critical")
    assert (healthy["node"], healthy["level"]) == ("gpu-node-1", "ok")
    assert (worker["node"], worker["level"]) == (WORKER, "critical")
    assert "circuit breaker open" in worker["reason"] and "timed out" in worker["reason"]


def test_node_table_shows_the_last_remote_probe(
    client: TestClient, cfg: RingriftConfig, history: History
) -> None:
    figures = {
        "node": "gpu-node-1",
        "via": "status",
        "backlog": 6,
        "disk_free_gb": 120.5,
        "disk_used_pct": 62.0,
        "memory_used_pct": 91.0,
        "load_1m": 3.25,
        "gpus": [{"index": 0, "name": "NVIDIA H100", "used_pct": 40.0}],
        "level": "warning",
        "reason": "memory 91% used",
    }
    with open_store(cfg.store_url) as store:
        store.manifest.save_probe(
            "gpu-node-1", probed_at=1_767_225_600.0, remote_backlog=6, remote_health=figures
        )

    html = client.get("/").text
    nodes = re.search(r'<table class="nodes">(.*?)</table>', html, re.S)
    assert nodes
    row = re.search(r"<tr><td><code>gpu-node-1</code>.*?</tr>", nodes.group(1), re.S)
    assert row
    assert "probed 2026-01-01 00:00 UTC: disk 62% used (120.5 GiB free), memory 91%, " in (
        row.group(0)
    )
    assert "load 3.25, GPU 0 NVIDIA H100 mem 40%" in row.group(0)
    assert "6 shard(s) waiting on the node" in row.group(0)
    # The node's own verdict is worse than its sync's: the row shows it.
    assert '<span class="badge warn">warning</span>' in row.group(0)
    assert "node reports warning: memory 91% used" in row.group(0)
    body = client.get("/api/dashboard").json()
    healthy = next(n for n in body["nodes"] if n["node"] == "gpu-node-1")
    assert healthy["level"] == "warning"
    worker = next(n for n in body["nodes"] if n["node"] == WORKER)
    assert worker["checks"]["remote"] == "not probed yet (ringrift_cluster_health)"


def test_trend_plot_is_served_for_known_configs_only(
    client: TestClient, cfg: RingriftConfig, history: History
) -> None:
    resp = client.get(f"/trend/{CONFIG}.png")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "image/png"
    assert resp.content == (cfg.paths.artifacts / f"{CONFIG}_elo_trend.png").read_bytes()
    assert client.get(f"/trend/{OTHER_CONFIG}.png").status_code == 404  # no plot yet
    assert client.get("/trend/square9_2p.png").status_code == 404
    assert client.get("/trend/..%2F..%2Fringrift.png").status_code == 404


def test_fresh_install_shows_the_enabled_config_empty(client: TestClient) -> None:
    resp = client.get("/")
    assert resp.status_code == 200
    card = _card(resp.text, CONFIG)
    assert "none yet" in card
    assert "No rated matches yet" in card
    assert "No trend plot yet" in card
    assert "No training gate has run" in card and "No promotion gate has run" in card
    assert re.search(r'games in pool</div><div class="value">0<', card)
    assert f'id="{OTHER_CONFIG}"' not in resp.text
    body = client.get("/api/dashboard").json()
    assert [c["config"] for c in body["configs"]] == [CONFIG]
    assert body["configs"][0]["best"] is None and body["configs"][0]["ladder"] == []
    assert [n["role"] for n in body["nodes"]] == ["this node"]  # no worker synced yet


def test_airflow_api_server_mounts_the_page_behind_its_login(
    airflow_setup: Path, loop_home: Path
) -> None:
    from airflow.api_fastapi.app import create_app as create_airflow_app
    from airflow.api_fastapi.app import get_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    purge_cached_app()
    try:
        with TestClient(create_airflow_app()) as api:
            assert api.get("/ringrift/").status_code == 401
            token = get_auth_manager().generate_jwt(
                SimpleAuthManagerUser(username="admin", role="admin")
            )
            bad = api.get("/ringrift/", headers={"Authorization": "Bearer not-a-token"})
            assert bad.status_code == 403
            page = api.get("/ringrift/", headers={"Authorization": f"Bearer {token}"})
            assert page.status_code == 200 and "RingRift" in page.text
            # The UI sends its session cookie rather than a header (the page's frame).
            api.cookies.set("_token", token)
            assert api.get("/ringrift/api/dashboard").status_code == 200
            plugins = api.get(
                "/api/v2/plugins", headers={"Authorization": f"Bearer {token}"}
            ).json()["plugins"]
    finally:
        purge_cached_app()
    ours = [p for p in plugins if p["name"] == "ringrift"]
    assert len(ours) == 1, [p["name"] for p in plugins]
    assert ours[0]["fastapi_apps"][0]["url_prefix"] == "/ringrift"
    view = ours[0]["external_views"][0]
    assert (view["name"], view["href"], view["url_route"]) == ("RingRift", "ringrift/", "ringrift")
