"""The RingRift page in the Airflow UI.

The api-server mounts the page's FastAPI app (``ringrift_airflow.ui``) at ``/ringrift``
behind Airflow's authentication; the "RingRift" navigation entry opens it inside the UI's
frame at ``/plugin/ringrift``.

The plugin class lives here, at the top of the plugins folder, and nowhere else: Airflow
imports every ``.py`` of the folder and registers each plugin class it finds in one, so a
class in ``ringrift_airflow/ui.py`` would be registered twice (as ``ui`` and again here).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends
from ringrift_airflow.ui import create_app, require_airflow_user

URL_PREFIX = "/ringrift"


class RingriftUIPlugin(AirflowPlugin):
    """Mounts the RingRift page and adds its entry to the UI's navigation."""

    name = "ringrift"
    fastapi_apps = [
        {
            "app": create_app(dependencies=[Depends(require_airflow_user)]),
            "url_prefix": URL_PREFIX,
            "name": "RingRift",
        }
    ]
    external_views = [
        {
            "name": "RingRift",
            # Relative to the UI's base URL, so it also works behind a proxy's sub-path.
            "href": "ringrift/",
            "url_route": "ringrift",
            "destination": "nav",
        }
    ]
