"""Self-play concurrency control: a PID loop that picks each round's number of workers so the
machine's utilisation settles at a target (the reference loop's resource optimiser).

Three layers, from pure to I/O:

* :class:`PidController` is the pure control law. The error is ``target - measured`` in
  percentage points; the output, in workers, is ``bias + P + I + D`` where ``P = kp * error``,
  ``I`` accumulates ``ki * error * dt`` and ``D = -kd * d(measured)/dt`` (on the measurement,
  not the error, so a change of target does not kick the output). ``dt`` is passed in, in
  seconds. Anti-windup: ``I`` is clamped to the range that can still move the output inside
  ``[min_workers, max_workers]``, and does not grow while the output is pinned at a bound in
  the direction the error pushes. The output is clamped to that range and rounded to whole
  workers.
* :class:`ControlState` is what one round leaves for the next: the controller's memory, the
  last decision and the utilisation measured while the last round played. It is a small JSON
  file under ``<home>/state`` written atomically; a file that cannot be read (corrupt, another
  version) is moved aside as ``*.corrupt``, reported, and control restarts from scratch.
* :func:`decide_concurrency` and :func:`concurrency_round` measure utilisation with the
  resource guard's readings (``resources.sample_cpu``, or over a round the same CPU-time
  counters; ``resources.sample_gpu_utilisation`` for the GPU) and return a
  :class:`Decision` whose :attr:`Decision.line` explains it in one line.

What is measured matters: the utilisation that the workers cause is seen only while they
play, so a round measures over its own self-play (CPU: busy share of all CPUs over the
window; GPU: mean of samples every ``poll_s``) and the next round's decision uses that. The
first round, or one after a long pause, samples the machine now instead.

Where no whole number of workers meets the target (2 cores: each worker is about 50 %), the
workers alternate between the two neighbours round by round, averaging near the target.
A round that finds the measurement unavailable (no GPU, no NVML) keeps the previous workers.
Several mapped rounds stepping at once (several configs) are serialised by a file lock;
the later ones see a ``dt`` of about zero, so they add no integral and no derivative.
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import psutil

from ringrift_tasks.atomic import atomic_write_text

if TYPE_CHECKING:
    from ringrift_tasks.config import RingriftConfig

log = logging.getLogger(__name__)

Resource = Literal["cpu", "gpu"]
RESOURCES: tuple[Resource, ...] = ("cpu", "gpu")
STATE_VERSION = 1
# A round's window older than this describes a machine we no longer see (the loop was
# paused): sample now instead.
STALE_WINDOW_S = 2 * 3600.0
# Rounds come every 10 minutes; a longer gap (a paused loop) must not count as a long
# stretch of the same error in the integral.
MAX_DT_S = 1800.0
SPOT_SAMPLE_S = 1.0


class ConcurrencyStateError(ValueError):
    """The persisted control state cannot be used; the message says which file and why."""


# --------------------------------------------------------------------------- the control law


@dataclass(frozen=True)
class PidMemory:
    """What the controller carries from one step to the next.

    ``i_term``: the integral's contribution to the output, in workers (kept as a term, not
    as an error sum, so retuning ``ki`` does not make the output jump). ``last_measured_pct``:
    the measurement of the previous step, for the derivative; None before the first step.
    """

    i_term: float = 0.0
    last_measured_pct: float | None = None


@dataclass(frozen=True)
class PidStep:
    """One step's result: the clamped continuous ``output`` and its rounded ``workers``,
    the three terms (workers) and the ``memory`` for the next step."""

    output: float
    workers: int
    error: float
    p: float
    i: float
    d: float
    memory: PidMemory


@dataclass(frozen=True)
class PidController:
    """Workers from utilisation: ``bias + kp*e + I - kd*d(measured)/dt``, clamped to
    ``[min_workers, max_workers]`` (see the module docstring for units and anti-windup).

    ``bias``: the output with no error and an empty integral (the configured ``workers``).
    """

    target_pct: float
    kp: float
    ki: float
    kd: float
    min_workers: int
    max_workers: int
    bias: float

    def __post_init__(self) -> None:
        if not 0.0 < self.target_pct <= 100.0:
            raise ValueError(f"target_pct must be in (0, 100], got {self.target_pct}")
        for name in ("kp", "ki", "kd"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not 1 <= self.min_workers <= self.max_workers:
            raise ValueError(
                f"expected 1 <= min_workers <= max_workers, got "
                f"min_workers={self.min_workers}, max_workers={self.max_workers}"
            )
        if not math.isfinite(self.bias):
            raise ValueError(f"bias must be finite, got {self.bias}")

    @classmethod
    def from_config(cls, cfg: RingriftConfig) -> PidController:
        """The controller the ``selfplay`` section describes; its bias is ``workers``
        clamped to the worker range."""
        sp = cfg.selfplay
        return cls(
            target_pct=sp.concurrency_target_pct,
            kp=sp.concurrency_kp,
            ki=sp.concurrency_ki,
            kd=sp.concurrency_kd,
            min_workers=sp.min_workers,
            max_workers=sp.max_workers,
            bias=float(min(max(sp.workers, sp.min_workers), sp.max_workers)),
        )

    def clamp(self, value: float) -> float:
        """``value`` limited to ``[min_workers, max_workers]``."""
        return min(max(value, float(self.min_workers)), float(self.max_workers))

    def step(self, memory: PidMemory, measured_pct: float, dt_s: float) -> PidStep:
        """One control step for utilisation ``measured_pct`` (0-100) observed ``dt_s``
        seconds after the previous step (0: no time passed, so nothing integrates and there
        is no derivative)."""
        if not (math.isfinite(measured_pct) and 0.0 <= measured_pct <= 100.0):
            raise ValueError(f"measured utilisation must be in [0, 100] %, got {measured_pct}")
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt must be a finite number of seconds >= 0, got {dt_s}")
        error = self.target_pct - measured_pct
        p = self.kp * error
        d = 0.0
        if memory.last_measured_pct is not None and dt_s > 0.0:
            d = -self.kd * (measured_pct - memory.last_measured_pct) / dt_s
        # The integral may only hold what can still move the output within the bounds.
        i_low, i_high = self.min_workers - self.bias, self.max_workers - self.bias
        i_prev = min(max(memory.i_term, i_low), i_high)
        before = self.bias + p + i_prev + d
        if (before >= self.max_workers and error > 0) or (before <= self.min_workers and error < 0):
            # Already pinned at a bound and the error pushes further: integrating would only
            # wind up a debt to be paid back later.
            i = i_prev
        else:
            i = min(max(i_prev + self.ki * error * dt_s, i_low), i_high)
        output = self.clamp(self.bias + p + i + d)
        workers = int(math.floor(output + 0.5))
        return PidStep(output, workers, error, p, i, d, PidMemory(i, measured_pct))


# --------------------------------------------------------------------------- persisted state


@dataclass(frozen=True)
class Window:
    """Utilisation measured over one round's self-play: mean ``pct`` over ``seconds`` ending
    at ``ended_at`` (Unix seconds), with ``workers`` playing."""

    pct: float
    seconds: float
    ended_at: float
    workers: int


@dataclass(frozen=True)
class ControlState:
    """One resource's control loop between rounds: the controller's ``memory``, the last
    decision (``workers`` at ``stepped_at``, Unix seconds) and the last round's ``window``."""

    memory: PidMemory = PidMemory()
    workers: int | None = None
    stepped_at: float | None = None
    window: Window | None = None

    def to_json(self, resource: Resource) -> str:
        body = {"version": STATE_VERSION, "resource": resource, **asdict(self)}
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, resource: Resource) -> ControlState:
        """Parse a state file's text; raises :class:`ConcurrencyStateError` naming what is
        wrong with it."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConcurrencyStateError(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ConcurrencyStateError(f"expected an object, got {type(data).__name__}")
        if data.get("version") != STATE_VERSION:
            raise ConcurrencyStateError(
                f"version {data.get('version')!r}, expected {STATE_VERSION}"
            )
        if data.get("resource") != resource:
            raise ConcurrencyStateError(f"resource {data.get('resource')!r}, expected {resource!r}")
        try:
            mem = data["memory"]
            memory = PidMemory(
                _number(mem["i_term"], "memory.i_term"),
                _optional_number(mem["last_measured_pct"], "memory.last_measured_pct"),
            )
            window = data["window"]
            return cls(
                memory=memory,
                workers=_optional_int(data["workers"], "workers"),
                stepped_at=_optional_number(data["stepped_at"], "stepped_at"),
                window=None
                if window is None
                else Window(
                    _number(window["pct"], "window.pct"),
                    _number(window["seconds"], "window.seconds"),
                    _number(window["ended_at"], "window.ended_at"),
                    _int(window["workers"], "window.workers"),
                ),
            )
        except (KeyError, TypeError) as exc:
            raise ConcurrencyStateError(f"missing or malformed field ({exc!r})") from None


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConcurrencyStateError(f"{key}: expected a finite number, got {value!r}")
    return float(value)


def _optional_number(value: Any, key: str) -> float | None:
    return None if value is None else _number(value, key)


def _int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConcurrencyStateError(f"{key}: expected an integer, got {value!r}")
    return value


def _optional_int(value: Any, key: str) -> int | None:
    return None if value is None else _int(value, key)


def state_path(cfg: RingriftConfig, resource: Resource) -> Path:
    """Where ``resource``'s control state lives: ``<home>/state/selfplay_concurrency_<r>.json``."""
    return cfg.paths.state / f"selfplay_concurrency_{resource}.json"


def load_state(path: Path, resource: Resource) -> tuple[ControlState, str]:
    """The state in ``path`` and ``""``; a fresh state and the reason when there is none
    usable. An unusable file is moved aside to ``<path>.corrupt`` (kept for a look, never
    read again) and the reason says so; an absent file is simply a first round."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ControlState(), ""
    except (OSError, UnicodeDecodeError) as exc:
        why = str(exc)
    else:
        try:
            return ControlState.from_json(text, resource), ""
        except ConcurrencyStateError as exc:
            why = str(exc)
    aside = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, aside)
        moved = f"moved to {aside.name}"
    except OSError as exc:
        moved = f"could not be moved aside ({exc})"
    reason = f"concurrency state {path} unusable ({why}), {moved}; control restarts"
    log.warning("%s", reason)
    return ControlState(), reason


def save_state(path: Path, resource: Resource, state: ControlState) -> None:
    """Write ``state`` to ``path`` atomically."""
    atomic_write_text(path, state.to_json(resource))


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # Mapped rounds of several configs may step at once: one read-modify-write at a time.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- measuring


def sample_now(resource: Resource) -> tuple[float | None, str]:
    """Utilisation of ``resource`` now, in percent, or ``(None, why not)``: the CPU over
    ``SPOT_SAMPLE_S`` seconds, the GPU as NVML last sampled it."""
    from ringrift_tasks.resources import sample_cpu, sample_gpu_utilisation

    if resource == "cpu":
        return sample_cpu(SPOT_SAMPLE_S), ""
    return sample_gpu_utilisation()


def _cpu_busy_total() -> tuple[float, float]:
    """(busy, total) CPU seconds of all CPUs since boot; busy leaves out idle and I/O wait,
    as ``psutil.cpu_percent`` (the resource guard's CPU reading) does."""
    times = psutil.cpu_times()
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    return total - times.idle - getattr(times, "iowait", 0.0), total


class UtilisationMeter:
    """Mean utilisation of ``resource`` between :meth:`start` and :meth:`stop`.

    CPU: the busy share of all CPUs over the window, from two readings of the CPU time
    counters (the guard's own reading, measured over the window rather than a fixed
    interval, and unaffected by other samplers in the process). GPU: the resource guard's
    NVML utilisation sampled every ``poll_s`` seconds by a background thread.
    """

    def __init__(self, resource: Resource, poll_s: float = 2.0) -> None:
        if resource not in RESOURCES:
            raise ValueError(f"resource must be one of {RESOURCES}, got {resource!r}")
        if not poll_s > 0:
            raise ValueError(f"poll_s must be > 0, got {poll_s}")
        self.resource = resource
        self.poll_s = poll_s
        self._samples: list[float] = []
        self._why = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._cpu_start = (0.0, 0.0)

    def start(self) -> None:
        self._started = time.monotonic()
        if self.resource == "cpu":
            self._cpu_start = _cpu_busy_total()
            return
        self._thread = threading.Thread(target=self._poll, name="gpu-utilisation", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        from ringrift_tasks.resources import sample_gpu_utilisation

        while True:
            pct, why = sample_gpu_utilisation()
            if pct is None:
                self._why = why
                return
            self._samples.append(pct)
            if self._stop.wait(self.poll_s):
                return

    def stop(self) -> tuple[float | None, float, str]:
        """(mean percent or None, window seconds, why there is no figure)."""
        seconds = time.monotonic() - self._started
        if self.resource == "cpu":
            busy, total = _cpu_busy_total()
            d_busy, d_total = busy - self._cpu_start[0], total - self._cpu_start[1]
            if d_total <= 0:
                return None, seconds, "the CPU time counters did not advance"
            return min(max(100.0 * d_busy / d_total, 0.0), 100.0), seconds, ""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not self._samples:
            return None, seconds, self._why or "no GPU utilisation sample taken"
        return sum(self._samples) / len(self._samples), seconds, ""


# --------------------------------------------------------------------------- one round


@dataclass(frozen=True)
class Decision:
    """A round's concurrency: ``workers`` to run, why (``line``), and the numbers behind it.

    ``measured_pct`` is None when the resource could not be measured (then ``workers`` is
    the previous round's, or the configured start); ``source`` says what was measured.
    """

    resource: Resource
    workers: int
    was: int | None
    target_pct: float
    measured_pct: float | None
    source: str
    p: float = 0.0
    i: float = 0.0
    d: float = 0.0
    note: str = ""

    @property
    def line(self) -> str:
        """One human line for the task log, e.g. ``concurrency: cpu 41% (last round: 312 s,
        1 worker) target 70% -> workers 2 (was 1; P +0.58 I +0.20 D -0.03)``."""
        was = "first round" if self.was is None else f"was {self.was}"
        if self.measured_pct is None:
            head = f"concurrency: {self.resource} unmeasured ({self.source})"
            text = f"{head} -> workers {self.workers} ({was}; held)"
        else:
            text = (
                f"concurrency: {self.resource} {self.measured_pct:.0f}% ({self.source}) "
                f"target {self.target_pct:g}% -> workers {self.workers} ({was}; "
                f"P {self.p:+.2f} I {self.i:+.2f} D {self.d:+.2f})"
            )
        return f"{text}; {self.note}" if self.note else text

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "line": self.line}


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def decide_concurrency(
    cfg: RingriftConfig,
    resource: Resource,
    *,
    now: float | None = None,
) -> Decision:
    """Step ``resource``'s control loop once and persist it: the utilisation measured over
    the last round (or, if there is none recent, :func:`sample_now`) against
    ``selfplay.concurrency_target_pct``. ``now``: Unix seconds (default the clock)."""
    if resource not in RESOURCES:
        raise ValueError(f"resource must be one of {RESOURCES}, got {resource!r}")
    now = time.time() if now is None else now
    controller = PidController.from_config(cfg)
    path = state_path(cfg, resource)
    with _locked(path):
        state, note = load_state(path, resource)
        window = state.window
        if window is not None and 0.0 <= now - window.ended_at <= STALE_WINDOW_S:
            measured: float | None = window.pct
            source = f"last round: {window.seconds:.0f} s, {_plural(window.workers, 'worker')}"
        else:
            measured, why = sample_now(resource)
            source = f"sampled now: {why}" if measured is None else "sampled now"
        was = state.workers
        if measured is None:
            # Nothing to steer by: keep the last decision (first round: the configured start).
            workers = int(controller.clamp(was if was is not None else round(controller.bias)))
            decision = Decision(resource, workers, was, controller.target_pct, None, source)
            save_state(path, resource, replace(state, workers=workers))
        else:
            dt = (
                0.0 if state.stepped_at is None else min(max(now - state.stepped_at, 0.0), MAX_DT_S)
            )
            step = controller.step(state.memory, measured, dt)
            decision = Decision(
                resource,
                step.workers,
                was,
                controller.target_pct,
                measured,
                source,
                step.p,
                step.i,
                step.d,
            )
            save_state(
                path,
                resource,
                replace(state, memory=step.memory, workers=step.workers, stepped_at=now),
            )
    return replace(decision, note=note) if note else decision


def record_window(
    cfg: RingriftConfig,
    resource: Resource,
    pct: float,
    seconds: float,
    workers: int,
    *,
    ended_at: float | None = None,
) -> None:
    """Remember the utilisation ``pct`` (0-100) measured over a round's self-play of
    ``seconds`` with ``workers`` workers, for the next decision."""
    if not (math.isfinite(pct) and 0.0 <= pct <= 100.0):
        raise ValueError(f"measured utilisation must be in [0, 100] %, got {pct}")
    path = state_path(cfg, resource)
    window = Window(pct, seconds, time.time() if ended_at is None else ended_at, workers)
    with _locked(path):
        state, _ = load_state(path, resource)
        save_state(path, resource, replace(state, window=window))


@dataclass
class ConcurrencyRound:
    """What :func:`concurrency_round` yields: the ``decision`` at the start and, after the
    block, the measured ``window_line``."""

    decision: Decision
    window_line: str = ""


@contextmanager
def concurrency_round(
    cfg: RingriftConfig, resource: Resource, *, poll_s: float = 2.0
) -> Iterator[ConcurrencyRound]:
    """Decide this round's workers, then measure utilisation while the block plays and keep
    it for the next round::

        with concurrency_round(cfg, "cpu") as rnd:
            print(rnd.decision.line)
            play(workers=rnd.decision.workers)
        print(rnd.window_line)

    A block that raises records nothing (its window may describe a crash, not the load).
    """
    rnd = ConcurrencyRound(decide_concurrency(cfg, resource))
    meter = UtilisationMeter(resource, poll_s)
    meter.start()
    try:
        yield rnd
    except BaseException:
        meter.stop()
        raise
    pct, seconds, why = meter.stop()
    workers = rnd.decision.workers
    if pct is None:
        rnd.window_line = f"concurrency: {resource} not measured this round ({why})"
        return
    record_window(cfg, resource, pct, seconds, workers)
    rnd.window_line = (
        f"concurrency: {resource} {pct:.0f}% over this round's {seconds:.0f} s with "
        f"{_plural(workers, 'worker')} (next round's input)"
    )
