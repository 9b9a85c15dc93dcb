"""The typed config: defaults, YAML and environment overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ringrift_tasks.config import (
    DEFAULT_CONFIG_PATH,
    ConfigError,
    RingriftConfig,
    load_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ringrift.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path | None = None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return str(info.value)


# --------------------------------------------------------------------------- defaults


def test_shipped_yaml_equals_built_in_defaults() -> None:
    assert load_config(env={}) == RingriftConfig()


def test_shipped_yaml_lists_every_key() -> None:
    shipped = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    effective = RingriftConfig().model_dump(mode="json")
    assert shipped.keys() == effective.keys()
    for section, value in effective.items():
        if isinstance(value, dict):
            assert shipped[section].keys() == value.keys(), section


def test_defaults_match_the_reference_loop() -> None:
    cfg = load_config(env={})
    assert cfg.configs == ["square8_2p"]
    assert cfg.sync.interval_s == 60
    assert (cfg.training.min_new_games, cfg.training.min_interval_s) == (300, 1200)
    assert (cfg.training.min_data_quality, cfg.training.max_parity_failure_rate) == (0.70, 0.10)
    assert (cfg.shadow.cron, cfg.shadow.games_per_config) == ("*/15 * * * *", 15)
    assert cfg.tournament.baselines == ["random", "heuristic", "mcts_100", "mcts_500"]
    assert (cfg.tournament.games, cfg.tournament.random_anchor_elo) == (50, 400.0)
    assert cfg.promotion.elo_margin == 20.0 and cfg.promotion.cooldown_s == 900
    assert cfg.promotion.max_per_day == 15
    assert (cfg.curriculum.scale, cfg.curriculum.min_weight, cfg.curriculum.max_weight) == (
        200.0,
        0.7,
        1.5,
    )
    r = cfg.resources
    assert (r.disk_warning_pct, r.disk_critical_pct) == (65, 70)
    assert (r.memory_warning_pct, r.memory_critical_pct) == (70, 80)
    assert (r.cpu_warning_pct, r.cpu_critical_pct) == (70, 80)
    assert (r.gpu_memory_warning_pct, r.gpu_memory_critical_pct) == (70, 80)
    assert r.load_critical_factor == 1.5
    assert not (cfg.flags.disable_local_tasks or cfg.flags.trace_debug)
    assert not cfg.flags.skip_shadow_contracts


def test_home_defaults_to_dot_ringrift_and_paths_derive_from_it() -> None:
    cfg = load_config(env={})
    assert cfg.home == Path.home() / ".ringrift"
    assert cfg.paths.shards_incoming == cfg.home / "shards" / "incoming"
    assert cfg.paths.shards_merged == cfg.home / "shards" / "merged"
    assert cfg.paths.quarantine.parent == cfg.home / "shards"
    assert cfg.paths.models == cfg.home / "models"
    assert cfg.paths.logs == cfg.home / "logs"
    assert cfg.store_url == f"sqlite:///{cfg.home / 'ringrift.db'}"


def test_config_is_frozen() -> None:
    cfg = load_config(env={})
    with pytest.raises(ValueError):
        cfg.training.min_new_games = 1  # type: ignore[misc]


def test_missing_default_file_falls_back_to_built_in_defaults(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr("ringrift_tasks.config.DEFAULT_CONFIG_PATH", tmp_path / "absent.yaml")
    assert load_config(env={}) == RingriftConfig()


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    assert "config file not found" in error_of(tmp_path / "absent.yaml")


# --------------------------------------------------------------------------- overrides


def test_yaml_overrides_only_the_keys_it_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "configs: [square8_2p, hex8_3p]\ntraining:\n  min_new_games: 500\n"
        "resources:\n  disk_warning_pct: 80\n  disk_critical_pct: 90\n",
    )
    cfg = load_config(path, env={})
    assert cfg.configs == ["square8_2p", "hex8_3p"]
    assert [c.name for c in cfg.game_configs] == ["square8_2p", "hex8_3p"]
    assert cfg.training.min_new_games == 500
    assert cfg.training.min_interval_s == 1200
    assert (cfg.resources.disk_warning_pct, cfg.resources.disk_critical_pct) == (80, 90)


def test_empty_file_and_empty_section_mean_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, ""), env={}) == RingriftConfig()
    assert load_config(write(tmp_path, "training:\n"), env={}) == RingriftConfig()


def test_config_path_comes_from_ringrift_config_env(tmp_path: Path) -> None:
    path = write(tmp_path, "sync:\n  interval_s: 5\n")
    assert load_config(env={"RINGRIFT_CONFIG": str(path)}).sync.interval_s == 5


def test_generic_env_overrides_beat_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "training:\n  min_new_games: 500\n")
    env = {
        "RINGRIFT__TRAINING__MIN_NEW_GAMES": "42",
        "RINGRIFT__PROMOTION__ALPHA": "0.01",
        "RINGRIFT__SHADOW__CRON": "*/5 * * * *",
        "RINGRIFT__CONFIGS": "square8_2p,hexagonal_4p",
        "RINGRIFT__TOURNAMENT__BASELINES": "[random, heuristic]",
    }
    cfg = load_config(path, env=env)
    assert cfg.training.min_new_games == 42
    assert cfg.promotion.alpha == 0.01
    assert cfg.shadow.cron == "*/5 * * * *"
    assert cfg.configs == ["square8_2p", "hexagonal_4p"]
    assert cfg.tournament.baselines == ["random", "heuristic"]


def test_home_and_database_url_from_env(tmp_path: Path) -> None:
    cfg = load_config(
        env={"RINGRIFT_HOME": str(tmp_path / "h"), "RINGRIFT_DATABASE_URL": "postgresql://x/y"}
    )
    assert cfg.home == tmp_path / "h"
    assert cfg.paths.models == tmp_path / "h" / "models"
    assert cfg.store_url == "postgresql://x/y"


def test_empty_database_url_env_means_sqlite_under_home(tmp_path: Path) -> None:
    cfg = load_config(env={"RINGRIFT_HOME": str(tmp_path), "RINGRIFT_DATABASE_URL": ""})
    assert cfg.store_url == f"sqlite:///{tmp_path / 'ringrift.db'}"


@pytest.mark.parametrize(
    ("var", "key"),
    [
        ("RINGRIFT_DISABLE_LOCAL_TASKS", "disable_local_tasks"),
        ("RINGRIFT_TRACE_DEBUG", "trace_debug"),
        ("RINGRIFT_SKIP_SHADOW_CONTRACTS", "skip_shadow_contracts"),
    ],
)
@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("no", False)]
)
def test_reference_flags_from_env(var: str, key: str, raw: str, expected: bool) -> None:
    cfg = load_config(env={var: raw})
    assert getattr(cfg.flags, key) is expected


def test_flag_env_beats_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "flags:\n  trace_debug: true\n")
    assert load_config(path, env={}).flags.trace_debug is True
    assert load_config(path, env={"RINGRIFT_TRACE_DEBUG": "0"}).flags.trace_debug is False


def test_bad_flag_value_names_the_env_var() -> None:
    message = error_of(env={"RINGRIFT_TRACE_DEBUG": "maybe"})
    assert message.startswith("RINGRIFT_TRACE_DEBUG: flags.trace_debug: expected a boolean")
    assert "'maybe'" in message


def test_dump_round_trips_the_effective_config(tmp_path: Path) -> None:
    cfg = load_config(env={"RINGRIFT__SELFPLAY__WORKERS": "4", "RINGRIFT_HOME": str(tmp_path)})
    target = tmp_path / "artifact" / "config.yaml"
    text = cfg.dump(target)
    assert target.read_text(encoding="utf-8") == text
    assert load_config(target, env={}) == cfg
    assert [p.name for p in target.parent.iterdir()] == ["config.yaml"]  # no temp left behind


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "training:\n  min_new_games: lots\n",
            "training.min_new_games: expected an integer >= 1, got 'lots'",
        ),
        ("training:\n  min_new_games: 0\n", "training.min_new_games: expected an integer >= 1"),
        ("selfplay:\n  workers: 2.5\n", "selfplay.workers: expected an integer >= 1, got 2.5"),
        # YAML's `yes` is a boolean; a count must not silently become 1.
        ("selfplay:\n  workers: yes\n", "selfplay.workers: expected an integer >= 1, got True"),
        (
            "training:\n  min_data_quality: 1.5\n",
            "training.min_data_quality: expected a number in [0.0, 1.0], got 1.5",
        ),
        ("promotion:\n  alpha: 0\n", "promotion.alpha: expected a number in (0.0, 1.0), got 0"),
        ("selfplay:\n  temperature: .nan\n", "selfplay.temperature: expected a number >= 0.0"),
        ("sync: 5\n", "sync: expected a mapping of settings, got 5"),
        ("home: 3\n", "home: expected a path, got 3"),
        ("configs: []\n", "configs: expected a non-empty list of strings, got []"),
        ("configs: [square8_2p, hex9_2p]\n", "configs: bad config name 'hex9_2p'"),
        ("configs: [square8_2p, square8_2p]\n", "configs: expected distinct config names"),
        ("shadow:\n  cron: every 5 minutes\n", "shadow.cron: expected a 5-field cron expression"),
        (
            "tournament:\n  baselines: [random, 1]\n",
            "tournament.baselines: expected a non-empty list of strings, got ['random', 1]",
        ),
        (
            "resources:\n  disk_warning_pct: 75\n",
            "resources: disk_warning_pct (75.0) must be < disk_critical_pct (70.0)",
        ),
        (
            "resources:\n  gpu_memory_warning_pct: 80\n",
            "resources: gpu_memory_warning_pct (80.0) must be < gpu_memory_critical_pct (80.0)",
        ),
        (
            "resources:\n  memory_critical_pct: 101\n",
            "resources.memory_critical_pct: expected a number in (0.0, 100.0], got 101",
        ),
        (
            "curriculum:\n  min_weight: 2.0\n",
            "curriculum: min_weight (2.0) must be <= max_weight (1.5)",
        ),
        ('database_url: ""\n', "database_url: expected a SQLAlchemy URL or null"),
    ],
)
def test_bad_value_names_file_key_value_and_expectation(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, text)
    message = error_of(path)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_unknown_section_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "trainig:\n  min_new_games: 3\n"))
    assert "unknown key 'trainig' (did you mean 'training'?)" in message


def test_unknown_nested_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "training:\n  min_new_gmes: 3\n"))
    assert "unknown key 'training.min_new_gmes' (did you mean 'training.min_new_games'?)" in message


def test_unknown_key_without_close_match_lists_the_choices(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "sync:\n  zzz: 3\n"))
    assert (
        "unknown key 'sync.zzz' (expected one of: interval_s, hosts_file, known_hosts, "
        "connect_timeout_s, acked_retention_s, breaker_failures, breaker_cooldown_s, "
        "max_node_backlog)"
    ) in message


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    message = error_of(write(tmp_path, "sync:\n  interval_s: 0\ntraining:\n  bogus: 1\n"))
    assert "sync.interval_s" in message and "training.bogus" in message


def test_yaml_syntax_error_reports_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "training:\n  min_new_games: 3\n  x: [1\nsync: 2\n")
    message = error_of(path)
    assert message.startswith(f"{path}:4:")
    assert "YAML syntax error" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping of sections at top level, got list" in error_of(
        write(tmp_path, "- a\n- b\n")
    )


def test_bad_env_value_names_the_env_var() -> None:
    message = error_of(env={"RINGRIFT__TRAINING__MIN_NEW_GAMES": "lots"})
    assert message == (
        "RINGRIFT__TRAINING__MIN_NEW_GAMES: training.min_new_games: "
        "expected an integer >= 1, got 'lots'"
    )


def test_unknown_env_section_and_key_are_errors() -> None:
    assert error_of(env={"RINGRIFT__TRAINIG__MIN_NEW_GAMES": "1"}) == (
        "RINGRIFT__TRAINIG__MIN_NEW_GAMES: unknown key 'trainig' (did you mean 'training'?)"
    )
    assert "unknown key 'training.min_games' (did you mean 'training.min_new_games'?)" in (
        error_of(env={"RINGRIFT__TRAINING__MIN_GAMES": "1"})
    )


def test_env_naming_a_whole_section_is_an_error() -> None:
    assert "is a section" in error_of(env={"RINGRIFT__TRAINING": "1"})


def test_cross_field_error_mentions_the_env_override_involved() -> None:
    message = error_of(env={"RINGRIFT__RESOURCES__CPU_WARNING_PCT": "90"})
    assert "RINGRIFT__RESOURCES__CPU_WARNING_PCT" in message
    assert "cpu_warning_pct (90.0) must be < cpu_critical_pct (80.0)" in message


def test_single_underscore_env_vars_of_other_tools_are_ignored() -> None:
    assert load_config(env={"RINGRIFT_SOMETHING_ELSE": "x"}) == RingriftConfig()
