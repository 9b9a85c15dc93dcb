"""RingRift Loop: a self-improvement training pipeline for the board game RingRift.

Self-play workers produce games, a coordinator merges them, trains candidate models,
evaluates them against the current best and promotes the winners; Apache Airflow 3
schedules every stage. The library in this package never imports Airflow.
"""

__version__ = "0.1.0"
