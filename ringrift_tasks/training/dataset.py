"""Training data: windows over the game pool and the samples extracted from them.

A *window* is the newest N games of one config; N grows with the pool (KataGo's rule:
``N = c * (1 + growth * ((total / c) ** exponent - 1) / exponent)`` for ``total > c``,
every game below ``c``), so early training sees all the data and later training forgets
the oldest, weakest games. ``window_games`` computes N; ``load_window`` reads it.

``extract_samples`` replays every game of a window through the rules and turns each
decision (a step with legal moves) into one sample:

* input: the encoder's planes and globals (``ai.encoding``), seen from the player to move,
  with ``history_steps`` previous positions in the history planes;
* policy target: the recorded ``SearchTarget.policy`` (indices into the canonically
  ordered legal list) as probabilities over the legal moves' policy indices
  (``ai.actions.encode_moves``); a decision without a target trains the value only;
* value targets: the final rank of every seat (``network.rank_targets`` of the recorded
  ranking, rotated to the player to move) and, when the search recorded it, the root
  value of every seat (rotated the same way).

A game whose moves do not replay is left out and counted with its reason
(``ExtractionStats``), never dropped silently; a target that does not fit its legal list
is counted too. Samples are stored compactly: every input plane value is a multiple of
0.1 (``encoding``'s scales), so planes are kept as ``uint8`` tenths (checked exactly).

Augmentation (``SampleSet.batch``): each sample may be replaced by one of its board's
symmetric images (``training.symmetry``), where that is exact.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ringrift_tasks.ai.actions import encode_moves
from ringrift_tasks.ai.encoding import HISTORY_STEPS, MAX_SEATS, encode_batch, seat_order
from ringrift_tasks.ai.network import rank_targets
from ringrift_tasks.atomic import atomic_write_bytes
from ringrift_tasks.records.game_record import GameRecord
from ringrift_tasks.rules.moves import MoveFormatError, move_from_json
from ringrift_tasks.rules.state import GameConfig, GameState, new_game
from ringrift_tasks.rules.turn import apply_move, legal_moves
from ringrift_tasks.training.symmetry import Symmetries, board_symmetries

PLANE_SCALE = 10  # planes are stored as uint8 multiples of 1 / PLANE_SCALE


class DatasetError(ValueError):
    """A window or sample set that cannot be used; the message says which and why."""


def window_games(
    total: int, *, minimum: int = 250, exponent: float = 0.75, growth: float = 0.4
) -> int:
    """Games in the training window when the pool holds ``total`` games of the config.

    Every game while ``total <= minimum``; beyond that the window grows sublinearly
    (KataGo's ``c * (1 + growth * ((total / c) ** exponent - 1) / exponent)``).
    """
    if total < 0 or minimum < 1 or not 0 < exponent <= 1 or growth < 0:
        raise DatasetError(
            f"window_games: bad arguments total={total}, minimum={minimum}, "
            f"exponent={exponent}, growth={growth}"
        )
    if total <= minimum:
        return total
    size = minimum * (1 + growth * ((total / minimum) ** exponent - 1) / exponent)
    return min(total, int(size))


@dataclass(frozen=True, slots=True)
class Window:
    """The games of one training window (oldest first) and how it was chosen."""

    config: str
    games: tuple[GameRecord, ...]
    pool_games: int

    def describe(self) -> dict[str, Any]:
        """The window as the model card's ``data_window``."""
        ids = [g.game_id for g in self.games]
        digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()
        return {
            "config": self.config,
            "games": len(self.games),
            "pool_games": self.pool_games,
            "oldest_created_at": self.games[0].created_at if self.games else None,
            "newest_created_at": self.games[-1].created_at if self.games else None,
            "game_ids_sha256": digest,
        }


def load_window(pool: Any, config: str, games: int | None = None) -> Window:
    """The newest ``games`` games of ``config`` from ``pool`` (a ``store.GamePool``);
    ``None``: ``window_games`` of the pool's size."""
    GameConfig.parse(config)
    total = pool.count(config)
    n = window_games(total) if games is None else games
    if n < 0:
        raise DatasetError(f"window size must be >= 0, got {n}")
    return Window(config, tuple(pool.latest_window(config, n)), total)


@dataclass(slots=True)
class ExtractionStats:
    """What ``extract_samples`` did with a window (nothing is dropped without a count)."""

    games: int = 0
    games_used: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (game_id, reason)
    samples: int = 0
    samples_with_policy: int = 0
    samples_with_root_value: int = 0
    bad_targets: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "games": self.games,
            "games_used": self.games_used,
            "games_rejected": len(self.rejected),
            "samples": self.samples,
            "samples_with_policy": self.samples_with_policy,
            "samples_with_root_value": self.samples_with_root_value,
            "bad_targets": self.bad_targets,
        }


@dataclass(frozen=True, slots=True)
class Batch:
    """One training batch as tensors (B samples, L = the longest legal list in it).

    ``legal_index``/``legal_mask``: (B, L) policy indices of each sample's legal moves
    (padding masked out); ``policy_target``: (B, L) probabilities (0 on padding);
    ``rank``: (B, MAX_SEATS) final rank per seat group, -1 for absent seats;
    ``root_value``: (B, MAX_SEATS) search root values (valid where ``has_root``).
    """

    planes: torch.Tensor
    globals_: torch.Tensor
    legal_index: torch.Tensor
    legal_mask: torch.Tensor
    policy_target: torch.Tensor
    has_policy: torch.Tensor
    rank: torch.Tensor
    root_value: torch.Tensor
    has_root: torch.Tensor
    num_players: torch.Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(*(t.to(device, non_blocking=True) for t in self))  # type: ignore[arg-type]

    def __iter__(self) -> Any:
        return iter(getattr(self, name) for name in self.__slots__)

    def __len__(self) -> int:
        return int(self.planes.shape[0])


_ARRAYS = (
    "planes",
    "globals_",
    "legal_offsets",
    "legal_index",
    "legal_target",
    "has_policy",
    "rank",
    "root_value",
    "has_root",
    "num_players",
    "game",
)


@dataclass(frozen=True, slots=True)
class SampleSet:
    """The samples of a window as flat arrays (see the module docstring).

    Per sample ``i``: ``planes[i]`` uint8 tenths ``(C, H, W)``, ``globals_[i]``, its legal
    moves' policy indices ``legal_index[legal_offsets[i]:legal_offsets[i+1]]`` with the
    target probabilities ``legal_target`` beside them, ``has_policy[i]``, ``rank[i]``,
    ``root_value[i]``/``has_root[i]``, ``num_players[i]`` and ``game[i]`` (its index in
    ``game_ids``).
    """

    config: str
    game_ids: tuple[str, ...]
    planes: np.ndarray
    globals_: np.ndarray
    legal_offsets: np.ndarray
    legal_index: np.ndarray
    legal_target: np.ndarray
    has_policy: np.ndarray
    rank: np.ndarray
    root_value: np.ndarray
    has_root: np.ndarray
    num_players: np.ndarray
    game: np.ndarray

    def __len__(self) -> int:
        return int(self.planes.shape[0])

    @property
    def board_type(self) -> str:
        return GameConfig.parse(self.config).board_type

    def legal(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(policy indices, target probabilities) of sample ``i``'s legal moves."""
        a, b = self.legal_offsets[i], self.legal_offsets[i + 1]
        return self.legal_index[a:b], self.legal_target[a:b]

    def symmetric(self) -> np.ndarray:
        """Bool per sample: every legal move has an exact symmetric image."""
        syms = board_symmetries(self.board_type)
        ok = syms.policy[1][self.legal_index] >= 0
        bad_per_sample = np.add.reduceat(~ok, self.legal_offsets[:-1]) if len(ok) else None
        out = np.ones(len(self), dtype=bool)
        if bad_per_sample is not None:
            sizes = np.diff(self.legal_offsets)
            out = np.where(sizes > 0, bad_per_sample == 0, True)
        return out

    def select(self, mask: np.ndarray) -> SampleSet:
        """The samples where ``mask`` is true (game ids kept as they are)."""
        idx = np.flatnonzero(mask)
        sizes = np.diff(self.legal_offsets)[idx]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        gather = (
            np.concatenate(
                [np.arange(self.legal_offsets[i], self.legal_offsets[i + 1]) for i in idx]
            )
            if len(idx)
            else np.zeros(0, dtype=np.int64)
        ).astype(np.int64)
        return SampleSet(
            self.config,
            self.game_ids,
            self.planes[idx],
            self.globals_[idx],
            offsets,
            self.legal_index[gather],
            self.legal_target[gather],
            self.has_policy[idx],
            self.rank[idx],
            self.root_value[idx],
            self.has_root[idx],
            self.num_players[idx],
            self.game[idx],
        )

    def batch(
        self,
        indices: Sequence[int] | np.ndarray,
        symmetry: Sequence[int] | np.ndarray | None = None,
    ) -> Batch:
        """The samples at ``indices`` as a ``Batch``; ``symmetry[j]`` (optional) is the
        symmetry applied to the j-th (0 = identity; it must be exact for that sample)."""
        idx = np.asarray(indices, dtype=np.int64)
        syms: Symmetries | None = None
        if symmetry is not None and np.any(np.asarray(symmetry)):
            syms = board_symmetries(self.board_type)
        planes = self.planes[idx].astype(np.float32) / PLANE_SCALE
        sizes = np.diff(self.legal_offsets)[idx]
        width = max(1, int(sizes.max()) if len(sizes) else 1)
        legal_index = np.zeros((len(idx), width), dtype=np.int64)
        legal_mask = np.zeros((len(idx), width), dtype=bool)
        target = np.zeros((len(idx), width), dtype=np.float32)
        for j, i in enumerate(idx):
            li, lt = self.legal(int(i))
            k = 0 if syms is None or symmetry is None else int(symmetry[j])
            if k:
                li = syms.apply_policy(li, k)  # type: ignore[union-attr]
                planes[j] = syms.apply_planes(planes[j], k)  # type: ignore[union-attr]
            legal_index[j, : len(li)] = li
            legal_mask[j, : len(li)] = True
            target[j, : len(lt)] = lt
        return Batch(
            torch.from_numpy(planes),
            torch.from_numpy(self.globals_[idx].copy()),
            torch.from_numpy(legal_index),
            torch.from_numpy(legal_mask),
            torch.from_numpy(target),
            torch.from_numpy(self.has_policy[idx].copy()),
            torch.from_numpy(self.rank[idx].copy()),
            torch.from_numpy(self.root_value[idx].copy()),
            torch.from_numpy(self.has_root[idx].copy()),
            torch.from_numpy(self.num_players[idx].copy()),
        )

    # --- files ------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(
            buf,
            config=np.asarray(self.config),
            game_ids=np.asarray(self.game_ids, dtype=str),
            **{name: getattr(self, name) for name in _ARRAYS},
        )
        return buf.getvalue()

    def save(self, path: Path) -> str:
        """Write atomically (temp file, fsync, rename); returns the content sha256."""
        blob = self.to_bytes()
        atomic_write_bytes(Path(path), blob)
        return hashlib.sha256(blob).hexdigest()

    @staticmethod
    def load(path: Path, sha256: str | None = None) -> SampleSet:
        """Read a saved set; ``DatasetError`` if unreadable or its sha256 is not ``sha256``."""
        path = Path(path)
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
        if sha256 is not None and hashlib.sha256(blob).hexdigest() != sha256:
            raise DatasetError(f"{path}: content sha256 is not the expected {sha256}")
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as data:
                arrays = {name: data[name] for name in _ARRAYS}
                config = str(data["config"])
                game_ids = tuple(str(g) for g in data["game_ids"])
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetError(f"{path}: not a sample set ({exc})") from None
        return SampleSet(config, game_ids, **arrays)


def _policy_target(
    target: Any, n_legal: int, stats: ExtractionStats
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(probabilities over the legal list or None, root values per seat or None)."""
    if target is None:
        return None, None
    values = np.asarray(target.values, dtype=np.float32) if target.values else None
    if not target.policy:
        return None, values
    probs = np.zeros(n_legal, dtype=np.float32)
    for i, p in target.policy:
        if not 0 <= i < n_legal or not p >= 0:
            stats.bad_targets += 1
            return None, values
        probs[i] += p
    total = probs.sum()
    if not total > 0:
        stats.bad_targets += 1
        return None, values
    return probs / total, values


def _game_samples(
    rec: GameRecord, history_steps: int, stats: ExtractionStats
) -> dict[str, Any] | None:
    """The samples of one game as lists, or None (counted in ``stats``) if it does not replay."""
    s = new_game(rec.config)
    geo = s.geo
    n = s.num_players
    ranking = list(rec.result.ranking)
    if sorted(ranking) != list(range(1, n + 1)):
        stats.rejected.append((rec.game_id, f"ranking {ranking} is not a permutation of seats"))
        return None
    states: list[GameState] = []
    histories: list[list[GameState]] = []
    past: list[GameState] = []
    out: dict[str, list[Any]] = {k: [] for k in ("legal", "target", "rank", "root", "players")}
    targets = rec.targets
    for step, mj in enumerate(rec.moves):
        if s.status != "active":
            stats.rejected.append((rec.game_id, f"step {step}: a move after the game ended"))
            return None
        try:
            move = move_from_json(mj, geo)
        except MoveFormatError as exc:
            stats.rejected.append((rec.game_id, f"step {step}: {exc}"))
            return None
        legal = legal_moves(s)
        before = s.copy() if history_steps or legal else None
        if legal:
            key = move.key(geo)
            if not any(m.key(geo) == key for m in legal):
                stats.rejected.append((rec.game_id, f"step {step}: move is not legal"))
                return None
            probs, values = _policy_target(targets[step] if targets else None, len(legal), stats)
            order = seat_order(s)
            root = None
            if values is not None and len(values) == n:
                root = np.zeros(MAX_SEATS, dtype=np.float32)
                root[:n] = values[[seat - 1 for seat in order]]
            assert before is not None
            states.append(before)
            histories.append(past[::-1])
            out["legal"].append(encode_moves(legal, s))
            out["target"].append(probs)
            out["rank"].append(rank_targets(ranking, s.current_player, n))
            out["root"].append(root)
            out["players"].append(n)
        try:
            # Decision moves were just matched against the legal list; bookkeeping moves
            # are checked by the rules.
            apply_move(s, move, validate=not legal)
        except ValueError as exc:
            stats.rejected.append((rec.game_id, f"step {step}: {exc}"))
            return None
        if history_steps:
            assert before is not None
            past.append(before)
            del past[:-history_steps]
    if not states:
        return {"planes": None, **out}
    planes, glob = encode_batch(states, histories if history_steps else None)
    q = np.rint(planes * PLANE_SCALE)
    if not np.allclose(q / PLANE_SCALE, planes, rtol=0, atol=1e-6):
        raise DatasetError(f"game {rec.game_id}: a plane value is not a multiple of 0.1")
    return {"planes": q.astype(np.uint8), "globals": glob, **out}


def extract_samples(
    records: Iterable[GameRecord], *, history_steps: int = HISTORY_STEPS
) -> tuple[SampleSet, ExtractionStats]:
    """Samples of every decision of ``records`` (one config); see the module docstring.

    Raises ``DatasetError`` for records of mixed configs or a window without one sample.
    """
    if not 0 <= history_steps <= HISTORY_STEPS:
        raise DatasetError(f"history_steps must be 0..{HISTORY_STEPS}, got {history_steps}")
    stats = ExtractionStats()
    config: str | None = None
    game_ids: list[str] = []
    parts: dict[str, list[Any]] = {
        k: [] for k in ("planes", "globals", "legal", "target", "rank", "root", "players", "game")
    }
    for rec in records:
        if config is None:
            config = rec.config
        elif rec.config != config:
            raise DatasetError(f"game {rec.game_id} is {rec.config}; the window is {config}")
        stats.games += 1
        got = _game_samples(rec, history_steps, stats)
        if got is None:
            continue
        stats.games_used += 1
        if got["planes"] is None:
            continue
        g = len(game_ids)
        game_ids.append(rec.game_id)
        parts["planes"].append(got["planes"])
        parts["globals"].append(got["globals"])
        for k in ("legal", "target", "rank", "root", "players"):
            parts[k].extend(got[k])
        parts["game"].extend([g] * len(got["legal"]))
    if config is None or not parts["planes"]:
        raise DatasetError(
            f"no training samples: {stats.games} games read, {len(stats.rejected)} rejected"
            + (f" (first: {stats.rejected[0][1]})" if stats.rejected else "")
        )
    sizes = np.asarray([len(li) for li in parts["legal"]], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    legal_target = np.concatenate(
        [
            t if t is not None else np.zeros(len(li), dtype=np.float32)
            for li, t in zip(parts["legal"], parts["target"], strict=True)
        ]
    ).astype(np.float32)
    has_policy = np.asarray([t is not None for t in parts["target"]], dtype=bool)
    has_root = np.asarray([r is not None for r in parts["root"]], dtype=bool)
    root = np.stack(
        [r if r is not None else np.zeros(MAX_SEATS, dtype=np.float32) for r in parts["root"]]
    )
    samples = SampleSet(
        config=config,
        game_ids=tuple(game_ids),
        planes=np.concatenate(parts["planes"]),
        globals_=np.concatenate(parts["globals"]).astype(np.float32),
        legal_offsets=offsets,
        legal_index=np.concatenate(parts["legal"]).astype(np.int64),
        legal_target=legal_target,
        has_policy=has_policy,
        rank=np.stack(parts["rank"]).astype(np.int64),
        root_value=root.astype(np.float32),
        has_root=has_root,
        num_players=np.asarray(parts["players"], dtype=np.int64),
        game=np.asarray(parts["game"], dtype=np.int64),
    )
    stats.samples = len(samples)
    stats.samples_with_policy = int(has_policy.sum())
    stats.samples_with_root_value = int(has_root.sum())
    return samples, stats


def holdout_mask(samples: SampleSet, fraction: float = 0.1) -> np.ndarray:
    """Bool per sample: its game is held out. A game is held out when the first 8 hex
    digits of sha256(game_id) fall below ``fraction`` of their range, so the split is
    stable as the window slides and independent of any seed."""
    if not 0 <= fraction < 1:
        raise DatasetError(f"holdout fraction must be in [0, 1), got {fraction}")
    cut = fraction * 16**8
    held = np.asarray(
        [int(hashlib.sha256(g.encode()).hexdigest()[:8], 16) < cut for g in samples.game_ids],
        dtype=bool,
    )
    if len(held) == 0:
        return np.zeros(len(samples), dtype=bool)
    return held[samples.game]
