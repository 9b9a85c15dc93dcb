"""The loop's one typed configuration: every threshold in one place, validated at load.

``load_config()`` reads ``config/ringrift.yaml`` (or ``$RINGRIFT_CONFIG``), applies environment
overrides and returns a frozen :class:`RingriftConfig`. Precedence, lowest first: built-in
defaults, the YAML file, then the environment:

- ``RINGRIFT_HOME`` (data directory), ``RINGRIFT_DATABASE_URL`` (store URL);
- the reference loop's three flags ``RINGRIFT_DISABLE_LOCAL_TASKS``, ``RINGRIFT_TRACE_DEBUG``,
  ``RINGRIFT_SKIP_SHADOW_CONTRACTS`` (truthy: 1/true/yes, falsy: 0/false/no/empty);
- generic ``RINGRIFT__<SECTION>__<KEY>=value`` (double underscores), e.g.
  ``RINGRIFT__TRAINING__MIN_NEW_GAMES=500``.

Every value, from any source, goes through the same validation; a bad one raises
:class:`ConfigError` naming where it came from (file or environment variable), the key path,
the value and what was expected. Unknown keys are errors, with a suggestion when one is close.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import annotated_types
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ringrift_tasks.atomic import atomic_write_text
from ringrift_tasks.rules.state import GameConfig

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config" / "ringrift.yaml"
DEFAULT_HOME = Path("~/.ringrift")

ENV_CONFIG = "RINGRIFT_CONFIG"
ENV_HOME = "RINGRIFT_HOME"
ENV_DATABASE_URL = "RINGRIFT_DATABASE_URL"
ENV_OVERRIDE_PREFIX = "RINGRIFT__"
# The reference loop's environment switches keep their names and meaning.
ENV_FLAGS: dict[str, str] = {
    "RINGRIFT_DISABLE_LOCAL_TASKS": "disable_local_tasks",
    "RINGRIFT_TRACE_DEBUG": "trace_debug",
    "RINGRIFT_SKIP_SHADOW_CONTRACTS": "skip_shadow_contracts",
}
TRUTHY = frozenset({"1", "true", "yes", "on"})
FALSY = frozenset({"0", "false", "no", "off", ""})


class ConfigError(ValueError):
    """The configuration is unusable; the message names the source, key, value and expectation."""


class _Section(BaseModel):
    # strict: YAML already yields typed values, so a quoted "300" or a `yes` where a number
    # belongs is a mistake to report, not something to coerce silently.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


_CRON_PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
)
_CRON_FIELD_CHARS = frozenset("0123456789*/,-?LW#ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _check_cron(value: str) -> str:
    """Accept an Airflow preset or a five-field cron expression (shape check only)."""
    if value in _CRON_PRESETS:
        return value
    fields = value.split()
    if len(fields) != 5 or any(not set(f.upper()) <= _CRON_FIELD_CHARS for f in fields):
        raise ValueError(
            f"expected a 5-field cron expression like '*/15 * * * *' or a preset such as "
            f"'@hourly', got {value!r}"
        )
    return value


class SyncConfig(_Section):
    """Pulling sealed shards from the worker nodes."""

    interval_s: int = Field(60, ge=1)
    # Node inventory (sync/hosts.py); null: config/hosts.yaml of this checkout.
    hosts_file: Path | None = None
    # Host keys the nodes must present; null: ~/.ssh/known_hosts. Unknown keys are refused.
    known_hosts: Path | None = None
    connect_timeout_s: float = Field(10.0, gt=0.0)
    acked_retention_s: int = Field(604_800, ge=0)
    breaker_failures: int = Field(3, ge=1)
    breaker_cooldown_s: int = Field(300, ge=0)
    # Self-play holds while more sealed shards than this wait on the worker nodes in all.
    max_node_backlog: int = Field(200, ge=0)

    @field_validator("hosts_file", "known_hosts", mode="before")
    @classmethod
    def _path(cls, value: Any) -> Any:
        # YAML and the environment give strings; `~` is the coordinator's home.
        if isinstance(value, str) and value.strip():
            return Path(value).expanduser()
        return value


class TrainingConfig(_Section):
    """When a config's model is retrained (the training gate)."""

    min_new_games: int = Field(300, ge=1)
    min_interval_s: int = Field(1200, ge=0)
    min_data_quality: float = Field(0.70, ge=0.0, le=1.0)
    max_parity_failure_rate: float = Field(0.10, ge=0.0, le=1.0)
    # One training run: optimiser steps (before curriculum scaling) of batch_size samples.
    steps: int = Field(1000, ge=1)
    batch_size: int = Field(256, ge=1)
    # The network tower trained as `<blocks>x<channels>`; "default": the board's own size
    # (ai/network.py DEFAULT_SIZES). A small tower (e.g. 1x8) makes a CPU-only loop cheap.
    model_size: str = "default"

    @field_validator("model_size")
    @classmethod
    def _model_size_shape(cls, value: str) -> str:
        if value == "default":
            return value
        blocks, x, channels = value.partition("x")
        if not (x and blocks.isdigit() and channels.isdigit()):
            raise ValueError(
                f"expected 'default' or <blocks>x<channels> like '2x32', got {value!r}"
            )
        if int(blocks) < 1 or int(channels) < 4 or int(channels) % 4:
            raise ValueError(
                f"expected blocks >= 1 and channels a multiple of 4 (>= 4), got {value!r}"
            )
        return value

    def model_tower(self) -> tuple[int, int] | None:
        """``(blocks, channels)`` of :attr:`model_size`, None for the board's default."""
        if self.model_size == "default":
            return None
        blocks, _, channels = self.model_size.partition("x")
        return int(blocks), int(channels)


class ShadowConfig(_Section):
    """Quick candidate-vs-best games on a schedule."""

    cron: str = "*/15 * * * *"
    games_per_config: int = Field(15, ge=1)

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str) -> str:
        return _check_cron(value)


class TournamentConfig(_Section):
    """The full Elo round robin."""

    cron: str = "0 * * * *"
    games: int = Field(50, ge=1)
    baselines: list[str] = Field(
        default_factory=lambda: ["random", "heuristic", "mcts_100", "mcts_500"], min_length=1
    )
    random_anchor_elo: float = 400.0
    # Search budget of a registered model wherever models play for Elo: the shadow and full
    # tournaments and the promotion gate (100: the mcts_100 baseline's budget).
    model_sims: int = Field(100, ge=1)
    # Uniformly random moves that open every evaluation game (tournaments and the gate).
    # Models and baselines play deterministically: without this, "50 games" of a pairing
    # would be one or two games replayed. Each opening is played once from every seat.
    opening_plies: int = Field(4, ge=0)

    @field_validator("cron")
    @classmethod
    def _cron_shape(cls, value: str) -> str:
        return _check_cron(value)

    @field_validator("baselines")
    @classmethod
    def _baselines_distinct(cls, value: list[str]) -> list[str]:
        blank = [b for b in value if not b.strip()]
        if blank:
            raise ValueError(f"expected non-empty baseline names, got {value!r}")
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct baseline names, got {value!r}")
        return value


class PromotionConfig(_Section):
    """The gate a candidate must pass to become the best model."""

    elo_margin: float = Field(20.0, ge=0.0)
    alpha: float = Field(0.05, gt=0.0, lt=1.0)
    beta: float = Field(0.05, gt=0.0, lt=1.0)
    max_games: int = Field(400, ge=1)
    wilson_lower_bound: float = Field(0.55, gt=0.0, lt=1.0)
    cooldown_s: int = Field(900, ge=0)
    max_per_day: int = Field(15, ge=1)


class CurriculumConfig(_Section):
    """Per-config training weight clamp(1 + (median - elo) / scale, min_weight, max_weight)."""

    refresh_s: int = Field(3600, ge=1)
    scale: float = Field(200.0, gt=0.0)
    min_weight: float = Field(0.7, gt=0.0)
    max_weight: float = Field(1.5, gt=0.0)

    @model_validator(mode="after")
    def _min_not_above_max(self) -> CurriculumConfig:
        if self.min_weight > self.max_weight:
            raise ValueError(
                f"min_weight ({self.min_weight}) must be <= max_weight ({self.max_weight})"
            )
        return self


class ResourceLimits(_Section):
    """Thresholds of the resource guard (at or above ``*_critical_pct`` work must not start),
    and how worker processes share the CPU."""

    disk_warning_pct: float = Field(65.0, gt=0.0, le=100.0)
    disk_critical_pct: float = Field(70.0, gt=0.0, le=100.0)
    memory_warning_pct: float = Field(70.0, gt=0.0, le=100.0)
    memory_critical_pct: float = Field(80.0, gt=0.0, le=100.0)
    cpu_warning_pct: float = Field(70.0, gt=0.0, le=100.0)
    cpu_critical_pct: float = Field(80.0, gt=0.0, le=100.0)
    gpu_memory_warning_pct: float = Field(70.0, gt=0.0, le=100.0)
    gpu_memory_critical_pct: float = Field(80.0, gt=0.0, le=100.0)
    load_critical_factor: float = Field(1.5, gt=0.0)
    # torch intra-op threads of each self-play and match worker process: the workers are the
    # parallelism (workers.limit_torch_threads says why more threads per worker hurt).
    worker_torch_threads: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _warning_below_critical(self) -> ResourceLimits:
        for kind in ("disk", "memory", "cpu", "gpu_memory"):
            warning = getattr(self, f"{kind}_warning_pct")
            critical = getattr(self, f"{kind}_critical_pct")
            if warning >= critical:
                raise ValueError(
                    f"{kind}_warning_pct ({warning}) must be < {kind}_critical_pct ({critical})"
                )
        return self


class SelfplayConfig(_Section):
    """Self-play workers on one machine."""

    workers: int = Field(1, ge=1)
    games_per_shard: int = Field(20, ge=1)
    # Who plays the scheduled rounds: "best" closes the loop (each config's best model with
    # neural search once it has one, the heuristic until then); "heuristic" never uses a model.
    agent: Literal["heuristic", "best"] = "best"
    # Search simulations per move of the best model in self-play.
    model_sims: int = Field(64, ge=1)
    # Games one worker plays at once when every seat is the same neural search agent: their
    # searches share each network call (selfplay/batched_play.py); the games are the same.
    parallel_games: int = Field(16, ge=1)
    # Games of one scheduled round (every 10 minutes), shared over the enabled configs.
    games_per_round: int = Field(40, ge=1)
    temperature_moves: int = Field(30, ge=0)
    temperature: float = Field(1.0, ge=0.0)
    final_temperature: float = Field(0.1, ge=0.0)
    # The DAG's concurrency controller (selfplay/concurrency.py): a PID loop on utilisation
    # that picks each round's workers in [min_workers, max_workers], starting from `workers`.
    concurrency_target_pct: float = Field(70.0, gt=0.0, le=100.0)
    concurrency_kp: float = Field(0.02, ge=0.0)
    concurrency_ki: float = Field(0.00005, ge=0.0)
    concurrency_kd: float = Field(1.0, ge=0.0)
    min_workers: int = Field(1, ge=1)
    max_workers: int = Field(4, ge=1)

    @model_validator(mode="after")
    def _min_workers_not_above_max(self) -> SelfplayConfig:
        if self.min_workers > self.max_workers:
            raise ValueError(
                f"min_workers ({self.min_workers}) must be <= max_workers ({self.max_workers})"
            )
        return self


class FlagsConfig(_Section):
    """The reference loop's switches (also set by their RINGRIFT_* environment variables)."""

    disable_local_tasks: bool = False
    trace_debug: bool = False
    skip_shadow_contracts: bool = False


@dataclass(frozen=True)
class RingriftPaths:
    """Every directory under the data home, computed in one place."""

    home: Path
    shards_incoming: Path
    shards_merged: Path
    quarantine: Path
    models: Path
    logs: Path
    artifacts: Path  # plots and reports (Elo trends, game statistics, calibration)
    state: Path  # small control state that successive runs continue (self-play concurrency)

    @classmethod
    def under(cls, home: Path) -> RingriftPaths:
        shards = home / "shards"
        return cls(
            home=home,
            shards_incoming=shards / "incoming",
            shards_merged=shards / "merged",
            quarantine=shards / "quarantine",
            models=home / "models",
            logs=home / "logs",
            artifacts=home / "artifacts",
            state=home / "state",
        )


class RingriftConfig(_Section):
    """The whole loop configuration (frozen; build with :func:`load_config`)."""

    home: Path = Field(DEFAULT_HOME, validate_default=True)
    database_url: str | None = None
    configs: list[str] = Field(default_factory=lambda: ["square8_2p"], min_length=1)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    shadow: ShadowConfig = Field(default_factory=ShadowConfig)
    tournament: TournamentConfig = Field(default_factory=TournamentConfig)
    promotion: PromotionConfig = Field(default_factory=PromotionConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    resources: ResourceLimits = Field(default_factory=ResourceLimits)
    selfplay: SelfplayConfig = Field(default_factory=SelfplayConfig)
    flags: FlagsConfig = Field(default_factory=FlagsConfig)

    @field_validator("home", mode="before")
    @classmethod
    def _home_absolute(cls, value: Any) -> Any:
        # A path string from YAML or the environment; `~` expanded and made absolute so a
        # dumped copy of the config names the same place from any working directory.
        if isinstance(value, str | Path) and str(value).strip():
            return Path(value).expanduser().absolute()
        return value

    @field_validator("database_url")
    @classmethod
    def _url_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("expected a SQLAlchemy URL or null, got an empty string")
        return value

    @field_validator("configs")
    @classmethod
    def _configs_valid(cls, value: list[str]) -> list[str]:
        for name in value:
            GameConfig.parse(name)  # raises ValueError naming the bad part
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct config names, got {value!r}")
        return value

    @property
    def paths(self) -> RingriftPaths:
        """Directories under :attr:`home` (shards, quarantine, models, logs)."""
        return RingriftPaths.under(self.home)

    @property
    def store_url(self) -> str:
        """The stores' SQLAlchemy URL: :attr:`database_url`, else a SQLite file under home."""
        return self.database_url or f"sqlite:///{self.home / 'ringrift.db'}"

    @property
    def game_configs(self) -> tuple[GameConfig, ...]:
        """The enabled configs, parsed."""
        return tuple(GameConfig.parse(name) for name in self.configs)

    def to_yaml(self) -> str:
        """The effective configuration as YAML text that :func:`load_config` reads back."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    def dump(self, path: Path | str | None = None) -> str:
        """Return the effective config as YAML; when ``path`` is given also write it there.

        The write is atomic (temp file in the same directory, fsync, rename), so a frozen copy
        written beside an artifact is either complete or absent.
        """
        text = self.to_yaml()
        if path is not None:
            atomic_write_text(Path(path), text)
        return text


# --------------------------------------------------------------------------- loading


def load_config(
    path: Path | str | None = None, env: Mapping[str, str] | None = None
) -> RingriftConfig:
    """Load and validate the configuration.

    ``path``: the YAML file; default ``$RINGRIFT_CONFIG``, else ``<repo>/config/ringrift.yaml``
    (if that default file is absent the built-in defaults are used; an explicitly named file
    must exist). ``env``: the environment to read overrides from (default ``os.environ``).
    Raises :class:`ConfigError`.
    """
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get(ENV_CONFIG))
    file = Path(path) if path is not None else Path(env.get(ENV_CONFIG) or DEFAULT_CONFIG_PATH)

    data: dict[str, Any] = {}
    if file.is_file():
        data = _read_yaml(file)
    elif explicit:
        raise ConfigError(f"{_display(file)}: config file not found")
    file_label = _display(file) if file.is_file() else "built-in defaults"

    origins: dict[tuple[str, ...], str] = {}
    _apply_env(data, env, origins)
    try:
        return RingriftConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, data, origins, file_label)) from None


def _display(file: Path) -> str:
    """The file as the user would type it: relative to the working directory when inside it."""
    try:
        return str(file.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


def _read_yaml(file: Path) -> dict[str, Any]:
    label = _display(file)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read config file: {exc.strerror or exc}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark is not None else label
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{label}: expected a mapping of sections at top level, got {type(loaded).__name__}"
        )
    # A section left with only commented-out keys reads as null: it means "all defaults".
    return {k: ({} if v is None and _is_section(k) else v) for k, v in loaded.items()}


def _is_section(key: Any) -> bool:
    field = RingriftConfig.model_fields.get(key) if isinstance(key, str) else None
    return field is not None and _model_of(field.annotation) is not None


def _apply_env(data: dict[str, Any], env: Mapping[str, str], origins: dict) -> None:
    """Fold environment overrides into ``data`` (in place), remembering where each came from."""
    if env.get(ENV_HOME):
        data["home"] = env[ENV_HOME]
        origins[("home",)] = ENV_HOME
    if ENV_DATABASE_URL in env:
        # An empty value means "no URL": fall back to the SQLite file under home.
        data["database_url"] = env[ENV_DATABASE_URL] or None
        origins[("database_url",)] = ENV_DATABASE_URL
    for var, key in ENV_FLAGS.items():
        if var in env:
            _set(data, ("flags", key), _parse_env(var, ("flags", key), env[var]))
            origins[("flags", key)] = var

    for var in sorted(env):
        if not var.startswith(ENV_OVERRIDE_PREFIX):
            continue
        parts = tuple(p.lower() for p in var[len(ENV_OVERRIDE_PREFIX) :].split("__"))
        if not all(parts) or len(parts) > 2:
            raise ConfigError(
                f"{var}: expected RINGRIFT__<SECTION>__<KEY> or RINGRIFT__<KEY>, "
                f"got {len(parts)} part(s)"
            )
        _check_known(parts, var)
        _set(data, parts, _parse_env(var, parts, env[var]))
        origins[parts] = var


def _check_known(parts: tuple[str, ...], var: str) -> None:
    model: type[BaseModel] | None = RingriftConfig
    for depth, part in enumerate(parts):
        if model is None or part not in model.model_fields:
            prefix = ".".join(parts[:depth])
            choices = list(model.model_fields) if model is not None else []
            raise ConfigError(f"{var}: {_unknown_key(prefix, part, choices)}")
        model = _model_of(model.model_fields[part].annotation)
    if model is not None:
        raise ConfigError(f"{var}: {'.'.join(parts)} is a section; name one of its keys")


def _set(data: dict[str, Any], parts: tuple[str, ...], value: Any) -> None:
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _field_at(parts: tuple[str, ...]) -> Any:
    model: type[BaseModel] = RingriftConfig
    field = None
    for part in parts:
        field = model.model_fields[part]
        model = _model_of(field.annotation) or model
    return field


def _parse_env(var: str, parts: tuple[str, ...], raw: str) -> Any:
    """Turn an environment string into the type the key expects (validation happens later)."""
    annotation = _field_at(parts).annotation
    text = raw.strip()
    if annotation is bool:
        if text.lower() in TRUTHY:
            return True
        if text.lower() in FALSY:
            return False
        raise ConfigError(
            f"{var}: {'.'.join(parts)}: expected a boolean (1/true/yes or 0/false/no), got {raw!r}"
        )
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            return raw  # validation reports it against the key's expectation
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            return raw
    if typing.get_origin(annotation) is list:
        if text.startswith("["):
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError:
                return raw
        return [item.strip() for item in text.split(",") if item.strip()]
    return raw


# --------------------------------------------------------------------------- error messages


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _describe(field: Any) -> str:
    """What a field expects, in words: 'an integer >= 1', 'a number in [0.0, 1.0]'."""
    annotation = field.annotation
    origin = typing.get_origin(annotation)
    if _model_of(annotation) is not None:
        return "a mapping of settings"
    if origin is list:
        noun = (
            "a non-empty list of strings"
            if _bound(field, annotated_types.MinLen)
            else ("a list of strings")
        )
        return noun
    optional = origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        annotation
    )
    base = next((a for a in typing.get_args(annotation) if a is not type(None)), annotation)
    noun = {
        int: "an integer",
        float: "a number",
        bool: "a boolean (true/false)",
        str: "a string",
        Path: "a path",
    }.get(base, getattr(base, "__name__", str(base)))
    lo = _bound(field, annotated_types.Ge) or _bound(field, annotated_types.Gt)
    hi = _bound(field, annotated_types.Le) or _bound(field, annotated_types.Lt)
    if lo is not None and hi is not None:
        left = "[" if isinstance(lo, annotated_types.Ge) else "("
        right = "]" if isinstance(hi, annotated_types.Le) else ")"
        noun += f" in {left}{_num(lo)}, {_num(hi)}{right}"
    elif lo is not None:
        noun += f" {'>=' if isinstance(lo, annotated_types.Ge) else '>'} {_num(lo)}"
    elif hi is not None:
        noun += f" {'<=' if isinstance(hi, annotated_types.Le) else '<'} {_num(hi)}"
    return noun + (" or null" if optional else "")


def _bound(field: Any, kind: type) -> Any:
    return next((m for m in field.metadata if isinstance(m, kind)), None)


def _num(bound: Any) -> Any:
    for attr in ("ge", "gt", "le", "lt", "min_length"):
        if hasattr(bound, attr):
            return getattr(bound, attr)
    return bound


def _unknown_key(prefix: str, key: str, choices: list[str]) -> str:
    full = f"{prefix}.{key}" if prefix else key
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    hint = f" (did you mean '{prefix + '.' if prefix else ''}{close[0]}'?)" if close else ""
    if not close and choices:
        hint = f" (expected one of: {', '.join(choices)})"
    return f"unknown key '{full}'{hint}"


def _explain(exc: ValidationError, data: dict, origins: dict, file_label: str) -> str:
    """One line per problem, joined with '; ', each naming source, key, value and expectation."""
    lines: list[str] = []
    for error in exc.errors():
        loc = tuple(str(p) for p in error["loc"] if not isinstance(p, int))
        source = _source(loc, origins, file_label)
        if error["type"] == "extra_forbidden":
            prefix, key = ".".join(loc[:-1]), loc[-1]
            model = RingriftConfig
            for part in loc[:-1]:
                model = _model_of(model.model_fields[part].annotation) or model
            lines.append(f"{source}: {_unknown_key(prefix, key, list(model.model_fields))}")
            continue
        key = ".".join(loc) or "(top level)"
        if error["type"] in ("value_error", "assertion_error"):
            message = str(error.get("ctx", {}).get("error", error["msg"]))
            lines.append(f"{source}: {key}: {message}")
            continue
        value = _value_at(data, loc)
        lines.append(f"{source}: {key}: expected {_describe(_field_at(loc))}, got {value!r}")
    return "; ".join(lines)


def _source(loc: tuple[str, ...], origins: dict, file_label: str) -> str:
    for n in range(len(loc), 0, -1):
        if loc[:n] in origins:
            return origins[loc[:n]]
    # A section-level (cross-field) error may involve environment overrides of its keys.
    env_vars = sorted(v for k, v in origins.items() if k[: len(loc)] == loc and loc)
    return file_label + (f" (with {', '.join(env_vars)})" if env_vars else "")


def _value_at(data: Any, loc: tuple[str, ...]) -> Any:
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
