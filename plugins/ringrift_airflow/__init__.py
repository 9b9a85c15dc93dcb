"""Airflow-side pieces of the RingRift loop: the Assets, the sensors, the DAGs' shared
defaults. Everything Airflow-specific lives here and in ``dags/``; the work itself is in
``ringrift_tasks``, which never imports Airflow."""
