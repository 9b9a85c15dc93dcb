"""The RingRift page of the Airflow UI: a small FastAPI app the api-server mounts.

``GET /`` renders :func:`ringrift_tasks.dashboard.dashboard` as one HTML page (every value
escaped), ``GET /api/dashboard`` returns the same snapshot as JSON, ``GET /trend/<config>.png``
serves the Elo trend plot the hourly tournament writes. The plugin module
(``plugins/ringrift_ui_plugin.py``) mounts the app under ``/ringrift`` behind Airflow's own
authentication and adds the "RingRift" entry to the UI's navigation, which shows the page
in the UI's frame.

Airflow imports every ``.py`` under the plugins folder, in task processes as well, so this
module imports only FastAPI and the library at import time; Airflow's auth code is imported
by :func:`require_airflow_user` when a request arrives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.params import Depends
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from ringrift_tasks.config import RingriftConfig, load_config
from ringrift_tasks.dashboard import (
    ConfigDashboard,
    Dashboard,
    DecisionSummary,
    NodeHealth,
    dashboard,
    local_node_health,
    trend_plot_path,
    worker_node_health,
)
from ringrift_tasks.rules.state import ALL_CONFIGS

CONFIG_NAMES = frozenset(c.name for c in ALL_CONFIGS)
# Evidence keys shown first, in this order; the rest follow alphabetically.
_EVIDENCE_FIRST = (
    "decision", "method", "games", "wins", "draws", "losses", "score", "wilson_low", "llr",
    "new_games", "min_new_games", "since_last_s", "best", "gate_id",
)  # fmt: skip
_EVIDENCE_ROWS = 12
_TEXT_MAX = 90


async def require_airflow_user(request: Request) -> None:
    """FastAPI dependency: the caller is logged in to Airflow (bearer token or the UI's
    session cookie) and may see the website; else 401/403 as the REST API answers."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPBearer

    credentials = await HTTPBearer(auto_error=False)(request)
    user = await get_user(request, None, credentials)
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status_code=403, detail="Forbidden")


def sample_dashboard(cfg: RingriftConfig) -> Dashboard:
    """The snapshot now: the stores, and this machine's resources sampled now."""
    from ringrift_tasks.resources import snapshot
    from ringrift_tasks.store.db import open_store

    node = local_node_health(snapshot(cfg.resources, cfg.home))
    with open_store(cfg.store_url) as store:
        workers = tuple(worker_node_health(h) for h in store.manifest.all_health())
        return dashboard(cfg, store, nodes=(node, *workers), node_scope="cluster")


def create_app(
    *,
    dependencies: Sequence[Depends] = (),
    load: Callable[[], RingriftConfig] = load_config,
) -> FastAPI:
    """The page's app. ``dependencies`` guard every route (the plugin passes Airflow's
    authentication); ``load`` reads the loop config per request, so a changed
    ``config/ringrift.yaml`` or environment shows on the next page load."""
    app = FastAPI(
        title="RingRift Loop",
        description="The RingRift self-improvement loop at a glance.",
        dependencies=list(dependencies),
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(render_page(sample_dashboard(load())))

    @app.get("/api/dashboard")
    def api_dashboard() -> JSONResponse:
        return JSONResponse(sample_dashboard(load()).as_dict())

    @app.get("/trend/{config}.png")
    def trend(config: str) -> FileResponse:
        if config not in CONFIG_NAMES:  # only the 12 names ever reach the file system
            raise HTTPException(status_code=404, detail=f"unknown config {config!r}")
        path = trend_plot_path(load(), config)
        if not path.is_file():
            raise HTTPException(status_code=404, detail=f"no Elo trend plot for {config} yet")
        return FileResponse(path, media_type="image/png", headers={"Cache-Control": "no-cache"})

    return app


# --------------------------------------------------------------------------- rendering


def _utc(t: float | None) -> str:
    if t is None:
        return "never"
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _ago(t: float | None, now: float) -> str:
    if t is None:
        return "never"
    s = max(0.0, now - t)
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if s >= size:
            return f"{s / size:.0f} {unit} ago"
    return f"{s:.0f} s ago"


def _when(t: float | None, now: float) -> str:
    """``3 min ago`` with the exact UTC time as its tooltip."""
    return f'<span title="{escape(_utc(t))}">{escape(_ago(t, now))}</span>'


def _short(text: str, limit: int = _TEXT_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(v: Any) -> str:
    """One evidence value as short plain text (escaped by the caller)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return "–" if math.isnan(v) else f"{v:.4g}"
    if isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v):
        return v[:12]  # a model id
    if isinstance(v, dict | list):
        return _short(json.dumps(v, sort_keys=True, default=str), 60)
    return _short(str(v), 60)


def _badge(text: str, kind: str) -> str:
    return f'<span class="badge {escape(kind)}">{escape(text)}</span>'


def _level_badge(level: str) -> str:
    kind = {"ok": "good", "warning": "warn", "critical": "bad"}.get(level, "muted")
    return _badge(level, kind)


def _decision(title: str, d: DecisionSummary | None, now: float, empty: str) -> str:
    if d is None:
        return (
            f'<div class="panel"><h3>{escape(title)}</h3><p class="empty">{escape(empty)}</p></div>'
        )
    verdict = _badge("passed", "good") if d.passed else _badge("refused", "bad")
    keys = [k for k in _EVIDENCE_FIRST if k in d.evidence]
    keys += sorted(k for k in d.evidence if k not in _EVIDENCE_FIRST)
    items = "".join(
        f"<div><dt>{escape(k)}</dt><dd>{escape(_value(d.evidence[k]))}</dd></div>"
        for k in keys[:_EVIDENCE_ROWS]
    )
    more = len(keys) - _EVIDENCE_ROWS
    if more > 0:
        items += f'<div><dt>…</dt><dd class="muted">{more} more in /api/dashboard</dd></div>'
    run = f" · run <code>{escape(d.run_id)}</code>" if d.run_id else ""
    evidence = f'<dl class="evidence">{items}</dl>' if items else ""
    return (
        f'<div class="panel"><h3>{escape(title)} {verdict}</h3>'
        f'<p class="reason">{escape(_short(d.reason, 200))}</p>'
        f'<p class="muted">{_when(d.at, now)}{run}</p>{evidence}</div>'
    )


def _ladder(c: ConfigDashboard) -> str:
    if not c.ladder:
        return '<p class="empty">No rated matches yet: the Elo tournaments fill the ladder.</p>'
    rows = []
    for e in c.ladder:
        star = ' <span class="star" title="best model">★ best</span>' if e.is_best else ""
        rows.append(
            f'<tr class="{"best" if e.is_best else ""}"><td class="num">{e.rank}</td>'
            f"<td><code>{escape(e.agent)}</code>{star}</td>"
            f'<td class="num strong">{e.elo:.0f}</td>'
            f'<td class="num muted">{e.ci_low:.0f} – {e.ci_high:.0f}</td>'
            f'<td class="num">{e.games}</td></tr>'
        )
    more = (
        f'<p class="muted">… and {c.ladder_more} more agents in /api/dashboard</p>'
        if c.ladder_more
        else ""
    )
    return (
        '<table class="ladder"><thead><tr><th class="num">#</th><th>agent</th>'
        '<th class="num">Elo</th><th class="num">95% interval</th><th class="num">matches</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"
    )


def _trend(c: ConfigDashboard, now: float) -> str:
    if c.trend_plot is None:
        return (
            '<p class="empty">No trend plot yet: <code>ringrift_elo_tournament</code> writes '
            "it hourly (or run <code>ringrift elo --trend "
            f"{escape(c.config)}</code>).</p>"
        )
    src = f"trend/{escape(c.config)}.png?v={int(c.trend_plot_at or 0)}"
    return (
        f'<img class="trend" src="{src}" alt="Elo trend of {escape(c.config)}">'
        f'<p class="muted">plotted {_when(c.trend_plot_at, now)}</p>'
    )


def _kpi(label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{note}</div>' if note else ""
    return (
        f'<div class="kpi"><div class="label">{escape(label)}</div>'
        f'<div class="value">{value}</div>{note_html}</div>'
    )


def _config_card(c: ConfigDashboard, now: float) -> str:
    if c.best is None:
        best = _kpi("best model", '<span class="muted">none yet</span>', "first promotion pending")
    else:
        best = _kpi(
            "best model",
            f'<code title="{escape(c.best.model_id)}">{escape(c.best.agent)}</code>',
            f"promoted {_when(c.best.promoted_at, now)}, "
            f"registered {_when(c.best.created_at, now)}",
        )
    kpis = "".join(
        [
            best,
            _kpi("games in pool", f"{c.games:,}"),
            _kpi(
                "new since training",
                f"{c.new_games:,}",
                f"last trained {_when(c.last_training_at, now)}",
            ),
            _kpi("rated matches", f"{c.matches:,}"),
            _kpi("candidates", f"{c.candidates:,}"),
        ]
    )
    state = _badge("enabled", "good") if c.enabled else _badge("not enabled", "muted")
    return (
        f'<section class="card" id="{escape(c.config)}">'
        f"<h2>{escape(c.config)} {state}</h2>"
        f'<div class="kpis">{kpis}</div>'
        # Two stacks, not a grid of rows: the ladder and the plot differ in height.
        '<div class="cols"><div class="stack">'
        f'<div class="panel"><h3>Elo ladder</h3>{_ladder(c)}</div>'
        + _decision(
            "Last training gate", c.training, now, "No training gate has run for this config."
        )
        + '</div><div class="stack">'
        f'<div class="panel"><h3>Elo trend</h3>{_trend(c, now)}</div>'
        + _decision(
            "Last promotion", c.promotion, now, "No promotion gate has run for this config."
        )
        + "</div></div></section>"
    )


def _nodes(nodes: Sequence[NodeHealth], scope: str, now: float) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(n.node)}</code></td><td>{escape(n.role)}</td>"
        f"<td>{_level_badge(n.level)}</td><td>{escape(_short(n.reason, 120))}</td>"
        f'<td class="checks">{"<br>".join(escape(v) for v in n.checks.values())}</td>'
        f"<td>{_when(n.checked_at, now)}</td></tr>"
        for n in nodes
    )
    scope_note = (
        "This machine, sampled now by the resource guard; worker nodes as the data sync "
        "(<code>ringrift_data_sync</code>) and the last health probe "
        "(<code>ringrift_cluster_health</code>) found them."
        if scope == "cluster"
        else "This machine only, sampled now by the resource guard."
    )
    return (
        '<section class="card"><h2>Node health</h2>'
        f'<p class="muted">{scope_note}</p>'
        '<table class="nodes"><thead><tr><th>node</th><th>role</th><th>level</th>'
        f"<th>verdict</th><th>readings</th><th>checked</th></tr></thead><tbody>{rows}"
        "</tbody></table></section>"
    )


_CSS = """
:root { --fg:#1f2933; --muted:#66788a; --line:#e3e8ee; --bg:#f5f7fa; --card:#fff;
  --accent:#017cee; --good:#1a7f37; --good-bg:#dafbe1; --bad:#b42318; --bad-bg:#fee4e2;
  --warn:#9a6700; --warn-bg:#fff4c2; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--fg); background:var(--bg); }
header { background:var(--card); border-bottom:1px solid var(--line); padding:14px 24px; }
header h1 { margin:0; font-size:20px; }
header h1 span { color:var(--accent); }
header .meta { color:var(--muted); font-size:12px; margin-top:2px; }
main { padding:16px 24px 32px; max-width:1500px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:14px 18px; margin-bottom:16px; }
h2 { margin:0 0 10px; font-size:17px; }
h3 { margin:0 0 8px; font-size:13px; text-transform:uppercase; letter-spacing:.04em;
  color:var(--muted); }
.kpis { display:grid; grid-template-columns:repeat(5,minmax(0,1fr)); gap:10px;
  margin-bottom:12px; }
.kpi { border:1px solid var(--line); border-radius:6px; padding:8px 12px; }
.kpi .label { color:var(--muted); font-size:12px; }
.kpi .value { font-size:20px; font-weight:600; }
.kpi .value .muted { font-size:15px; font-weight:500; }
.kpi .note { color:var(--muted); font-size:11px; }
.cols { display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:12px;
  align-items:start; }
.stack { display:flex; flex-direction:column; gap:12px; }
.panel { border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line);
  vertical-align:top; }
thead th { color:var(--muted); font-weight:600; font-size:12px; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
tr.best td { background:#eef6ff; }
.strong { font-weight:600; }
.star { color:var(--accent); font-size:11px; font-weight:600; }
dl.evidence { display:grid; grid-template-columns:repeat(4,minmax(0,1fr)); gap:6px;
  margin:8px 0 0; }
dl.evidence div { background:var(--bg); border-radius:4px; padding:4px 8px; }
dl.evidence dt { color:var(--muted); font-size:11px; }
dl.evidence dd { margin:0; font-weight:600; font-variant-numeric:tabular-nums;
  overflow-wrap:anywhere; }
.checks { font-size:12px; color:var(--muted); }
code { font:12px ui-monospace,SFMono-Regular,Menlo,monospace; }
.muted { color:var(--muted); }
.empty { color:var(--muted); font-style:italic; }
.reason { margin:0 0 4px; }
.badge { display:inline-block; font-size:11px; font-weight:600; padding:1px 8px;
  border-radius:10px; vertical-align:middle; text-transform:none; letter-spacing:0; }
.badge.good { color:var(--good); background:var(--good-bg); }
.badge.bad { color:var(--bad); background:var(--bad-bg); }
.badge.warn { color:var(--warn); background:var(--warn-bg); }
.badge.muted { color:var(--muted); background:var(--bg); }
img.trend { width:100%; height:auto; border-radius:4px; }
nav.configs { margin-bottom:12px; }
nav.configs a { margin-right:14px; color:var(--accent); text-decoration:none; }
"""


def render_page(d: Dashboard) -> str:
    """The whole HTML page for ``d``."""
    now = d.generated_at
    links = " ".join(f'<a href="#{escape(c.config)}">{escape(c.config)}</a>' for c in d.configs)
    cards = "".join(_config_card(c, now) for c in d.configs)
    role = " · coordinator only (no local self-play/training)" if d.coordinator_only else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="refresh" content="60">'
        f"<title>RingRift Loop</title><style>{_CSS}</style></head><body>"
        "<header><h1><span>RingRift</span> Loop</h1>"
        f'<div class="meta">ringrift_tasks {escape(d.version)} · store '
        f"<code>{escape(d.store_url)}</code> · home <code>{escape(d.home)}</code>{role}"
        f" · snapshot {escape(_utc(now))}</div></header><main>"
        f'<nav class="configs">{links}</nav>'
        f"{cards}{_nodes(d.nodes, d.node_scope, now)}</main></body></html>"
    )
