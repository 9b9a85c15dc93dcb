"""Airflow's ``core.hostname_callable`` for Celery workers that share one machine in tests.

A TaskInstance's ``hostname`` is whatever the executing worker's hostname callable returns
when the task starts (and on each heartbeat). In a real cluster every worker is its own host,
so the default (the FQDN) already says where a task ran; two workers on one test machine
would both report that machine. This callable returns the Celery node name of the worker
executing the current Celery task instead (``--celery-hostname``, e.g. ``cuda@node``), which
Celery itself puts on every task request, so the hostname is the node that consumed the
message -- not a value the test hands to a process.
"""

from __future__ import annotations

import socket

from celery import current_task


def celery_node_name() -> str:
    """The Celery node name (``queue@host``) of the worker running the current Celery task;
    outside a Celery task, this machine's FQDN (Airflow's default)."""
    # current_task is a proxy: falsy when no Celery task is executing in this process.
    if current_task:
        hostname = getattr(current_task.request, "hostname", None)
        if hostname:
            return str(hostname)
    return socket.getfqdn()
