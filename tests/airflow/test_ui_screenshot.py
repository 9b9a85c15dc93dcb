"""The RingRift page in a real ``airflow standalone``, photographed by a real headless
Chromium: the api-server mounts the plugin's page, the UI's navigation lists it, and the
screenshots of the page (inside the Airflow UI) and of ``ringrift_training``'s graph are
checked and kept as ``docs/ringrift_page.png`` and ``docs/dag_graph.png`` (the README's
pictures; CI keeps them as artifacts).

The loop home is filled through the library before Airflow starts, so the page shows a
best model, an Elo ladder and trend, and gate verdicts. The browser cannot log in through
a form, so this instance runs the simple auth manager in its all-admins mode (every
request is an admin); the login the page requires otherwise is tested in
``test_ui_page.py`` against Airflow's own api-server app.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from ringrift_tasks.config import load_config
from tests.airflow.chromium import (
    CHROMIUM,
    assert_real_png,
    screenshot,
    screenshot_with_storage,
)
from tests.airflow.loop_history import write_history
from tests.airflow.standalone import REPO, running_standalone, wait_dag_parsed, wait_healthy

pytestmark = pytest.mark.slow

DOCS = REPO / "docs"
SIZE = (1400, 1000)
GRAPH_DAG = "ringrift_training"


def test_ringrift_page_and_dag_graph_in_headless_chromium(tmp_path: Path) -> None:
    assert CHROMIUM.is_file(), "Debian package chromium is required (/usr/bin/chromium)"
    loop_home = tmp_path / "ringrift"
    history = write_history(load_config(env={"RINGRIFT_HOME": str(loop_home)}))

    extra = {"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    with running_standalone(tmp_path, extra) as server:
        wait_healthy(server)
        server.client = httpx.Client(base_url=server.base_url, timeout=30)

        page = server.client.get("/ringrift/")
        assert page.status_code == 200, page.text[:500]
        assert history.best[:12] in page.text
        plugins = server.api("GET", "/plugins").json()["plugins"]
        views = [v for p in plugins for v in p["external_views"]]
        assert {"name": "RingRift", "url_route": "ringrift"}.items() <= views[0].items()
        wait_dag_parsed(server, GRAPH_DAG)

        page_png = screenshot(f"{server.base_url}/plugin/ringrift", tmp_path / "page.png")
        graph_png = screenshot_with_storage(
            f"{server.base_url}/dags/{GRAPH_DAG}",
            tmp_path / "graph.png",
            local_storage={"default_dag_view": '"graph"'},
            wait_selector=".react-flow__node",
        )

    assert_real_png(page_png, SIZE)
    assert_real_png(graph_png, SIZE)
    DOCS.mkdir(exist_ok=True)
    shutil.copyfile(page_png, DOCS / "ringrift_page.png")
    shutil.copyfile(graph_png, DOCS / "dag_graph.png")
