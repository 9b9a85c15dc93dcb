"""The policy/value network: a residual tower with squeeze-excitation over the encoder grid.

Input: the encoder's planes ``(B, N_PLANES, H, W)`` and global features ``(B, N_GLOBALS)``
(``ai.encoding``). Output (``NetOutput``):

* ``policy``: ``(B, policy_size)`` logits over the action planes of ``ai.actions``
  (flattened ``(planes, H, W)``, the same index as ``actions.encode_move``). Nothing is
  masked here: callers gather the legal indices and softmax over those only.
* ``rank``: ``(B, MAX_SEATS, MAX_SEATS)`` logits: for each seat group (rotated, 0 = the
  player to move) a distribution over its final rank (0 = winner). Rank-based targets
  come straight from ``victory.ranking``; ``seat_values`` turns the distribution into an
  expected score in [-1, 1] per seat (winner 1, last -1, evenly spaced between), which
  is what search backs up. Temperature scaling (value calibration) divides these logits.

Architecture (``ModelConfig``): 3x3 conv stem; global features enter through a linear
layer added to every cell of the stem output; ``blocks`` residual blocks (two 3x3 convs
with batch norm, then squeeze-excitation: a masked mean over the board cells drives a
per-channel gate and bias); after every block cells off the board (hex grids) are zeroed
so the padding never leaks into the tower. Policy head: 1x1 conv -> BN -> ReLU -> 1x1 conv
to the action planes, plus a per-plane bias from the pooled tower (global context for
non-spatial decisions such as skips). Value head: 1x1 conv -> pooled (mean and max over
cells) and concatenated with the globals -> MLP -> rank logits.

The architecture is a named, versioned dictionary (``ModelConfig.to_dict``) stored in the
model card; ``DEFAULT_SIZES`` gives the per-board tower sizes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ringrift_tasks.ai.actions import ACTION_ENCODING_VERSION, action_layout
from ringrift_tasks.ai.encoding import (
    ENCODER_VERSION,
    MAX_SEATS,
    N_GLOBALS,
    N_PLANES,
    PLANE_VALID,
)
from ringrift_tasks.rules.board import BOARD_SPECS

ARCHITECTURE = "ringrift-resnet-se"
ARCHITECTURE_VERSION = 1

# (blocks, channels) per board: square8 small enough to train on a CPU.
DEFAULT_SIZES: dict[str, tuple[int, int]] = {
    "square8": (6, 64),
    "hex8": (6, 64),
    "square19": (10, 96),
    "hexagonal": (10, 96),
}


class ModelConfigError(ValueError):
    """A model configuration that does not describe a buildable network."""


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Everything needed to rebuild the network (and check it fits the encoders)."""

    board_type: str
    blocks: int
    channels: int
    se_reduction: int = 4
    policy_channels: int = 32
    value_channels: int = 32
    value_hidden: int = 128
    architecture: str = ARCHITECTURE
    architecture_version: int = ARCHITECTURE_VERSION
    encoder_version: int = ENCODER_VERSION
    action_encoding_version: int = ACTION_ENCODING_VERSION
    in_planes: int = N_PLANES
    n_globals: int = N_GLOBALS
    height: int = 0
    width: int = 0
    policy_planes: int = 0

    @property
    def name(self) -> str:
        """E.g. ``ringrift-resnet-se-v1-square8-6x64``."""
        return (
            f"{self.architecture}-v{self.architecture_version}-{self.board_type}-"
            f"{self.blocks}x{self.channels}"
        )

    @property
    def policy_size(self) -> int:
        return self.policy_planes * self.height * self.width

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored in the model card (``name`` included for readers)."""
        out = asdict(self)
        out["name"] = self.name
        return out

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ModelConfig:
        """Rebuild and validate; ``ModelConfigError`` names the bad field."""
        if not isinstance(data, dict):
            raise ModelConfigError(f"model config must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(ModelConfig)}
        unknown = set(data) - known - {"name"}
        if unknown:
            raise ModelConfigError(f"model config: unknown field(s) {sorted(unknown)}")
        missing = {"board_type", "blocks", "channels"} - set(data)
        if missing:
            raise ModelConfigError(f"model config: missing field(s) {sorted(missing)}")
        cfg = ModelConfig(**{k: v for k, v in data.items() if k in known})
        cfg.validate()
        if "name" in data and data["name"] != cfg.name:
            raise ModelConfigError(f"model config.name: {data['name']!r} != derived {cfg.name!r}")
        return cfg

    def validate(self) -> None:
        """Raise ``ModelConfigError`` naming the first field that does not fit this code."""
        if self.board_type not in BOARD_SPECS:
            raise ModelConfigError(
                f"model config.board_type: {self.board_type!r} is not one of {list(BOARD_SPECS)}"
            )
        expected: dict[str, Any] = {
            "architecture": ARCHITECTURE,
            "architecture_version": ARCHITECTURE_VERSION,
            "encoder_version": ENCODER_VERSION,
            "action_encoding_version": ACTION_ENCODING_VERSION,
            "in_planes": N_PLANES,
            "n_globals": N_GLOBALS,
        }
        layout = action_layout(self.board_type)
        expected.update(height=layout.height, width=layout.width, policy_planes=layout.n_planes)
        for key, want in expected.items():
            got = getattr(self, key)
            if got != want:
                raise ModelConfigError(
                    f"model config.{key}: {got!r} does not match this code ({want!r})"
                )
        for key in ("blocks", "channels", "se_reduction", "policy_channels", "value_channels"):
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ModelConfigError(f"model config.{key}: expected an integer >= 1, got {v!r}")
        if self.channels % self.se_reduction:
            raise ModelConfigError(
                f"model config.se_reduction: {self.se_reduction} does not divide "
                f"channels {self.channels}"
            )


def default_model_config(board_type: str, **overrides: Any) -> ModelConfig:
    """The default architecture of ``board_type`` (``DEFAULT_SIZES``), fields overridable."""
    if board_type not in DEFAULT_SIZES:
        raise ModelConfigError(f"board_type {board_type!r} is not one of {list(DEFAULT_SIZES)}")
    blocks, channels = DEFAULT_SIZES[board_type]
    layout = action_layout(board_type)
    params: dict[str, Any] = {
        "board_type": board_type,
        "blocks": blocks,
        "channels": channels,
        "height": layout.height,
        "width": layout.width,
        "policy_planes": layout.n_planes,
    }
    params.update(overrides)
    cfg = ModelConfig(**params)
    cfg.validate()
    return cfg


class NetOutput(NamedTuple):
    """``policy``: (B, policy_size) logits; ``rank``: (B, MAX_SEATS, MAX_SEATS) logits."""

    policy: torch.Tensor
    rank: torch.Tensor


def _masked_mean(x: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    return (x * mask).sum(dim=(2, 3)) / count


class _SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, channels // reduction)
        self.fc2 = nn.Linear(channels // reduction, 2 * channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        pooled = _masked_mean(x, mask, count)
        gate, bias = self.fc2(F.relu(self.fc1(pooled))).chunk(2, dim=1)
        return x * torch.sigmoid(gate)[:, :, None, None] + bias[:, :, None, None]


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.se = _SqueezeExcite(channels, reduction)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x))) * mask
        y = self.bn2(self.conv2(y)) * mask
        y = self.se(y, mask, count)
        return F.relu(x + y) * mask


class RingRiftNet(nn.Module):
    """The network of one board type; see the module docstring."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        c = config.channels
        self.stem = nn.Conv2d(config.in_planes, c, 3, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(c)
        self.global_in = nn.Linear(config.n_globals, c)
        self.blocks = nn.ModuleList(
            _ResidualBlock(c, config.se_reduction) for _ in range(config.blocks)
        )
        pc = config.policy_channels
        self.policy_conv = nn.Conv2d(c, pc, 1, bias=False)
        self.policy_bn = nn.BatchNorm2d(pc)
        self.policy_out = nn.Conv2d(pc, config.policy_planes, 1)
        self.policy_global = nn.Linear(c, config.policy_planes)
        vc = config.value_channels
        self.value_conv = nn.Conv2d(c, vc, 1, bias=False)
        self.value_bn = nn.BatchNorm2d(vc)
        self.value_fc = nn.Linear(2 * vc + config.n_globals, config.value_hidden)
        self.value_out = nn.Linear(config.value_hidden, MAX_SEATS * MAX_SEATS)

    def forward(self, planes: torch.Tensor, globals_: torch.Tensor) -> NetOutput:
        """``planes`` (B, N_PLANES, H, W), ``globals_`` (B, N_GLOBALS) -> ``NetOutput``."""
        mask = planes[:, PLANE_VALID : PLANE_VALID + 1]
        count = mask.sum(dim=(2, 3)).clamp_min(1.0)
        planes = planes * mask  # whatever sits off the board never reaches a board cell
        x = self.stem_bn(self.stem(planes)) + self.global_in(globals_)[:, :, None, None]
        x = F.relu(x) * mask
        for block in self.blocks:
            x = block(x, mask, count)
        pooled = _masked_mean(x, mask, count)
        p = F.relu(self.policy_bn(self.policy_conv(x)))
        p = self.policy_out(p) + self.policy_global(pooled)[:, :, None, None]
        v = F.relu(self.value_bn(self.value_conv(x))) * mask
        v_mean = _masked_mean(v, mask, count)
        # Off-board cells are 0 after the ReLU+mask, and every value is >= 0, so a plain max
        # over the grid is the max over the board.
        v_max = v.amax(dim=(2, 3))
        h = F.relu(self.value_fc(torch.cat([v_mean, v_max, globals_], dim=1)))
        rank = self.value_out(h).view(-1, MAX_SEATS, MAX_SEATS)
        return NetOutput(p.flatten(1), rank)


def rank_scores(num_players: int) -> torch.Tensor:
    """Score of each final rank (0 = winner): 1 for the winner down to -1 for the last."""
    if not 2 <= num_players <= MAX_SEATS:
        raise ValueError(f"num_players must be 2..{MAX_SEATS}, got {num_players}")
    return torch.linspace(1.0, -1.0, num_players)


def seat_values(
    rank_logits: torch.Tensor, num_players: int, temperature: float = 1.0
) -> torch.Tensor:
    """Expected rank score per seat group, ``(B, num_players)`` in [-1, 1].

    Ranks >= ``num_players`` are impossible and left out of the softmax; ``temperature``
    (the calibration temperature from the model card) divides the logits.
    """
    n = num_players
    logits = rank_logits[:, :n, :n].float() / temperature
    probs = torch.softmax(logits, dim=-1)
    return probs @ rank_scores(n).to(probs.device)


def rank_targets(ranking: list[int], current_player: int, num_players: int) -> np.ndarray:
    """Training target of the rank head for a position where ``current_player`` is to move.

    ``ranking``: seats best first (``victory.ranking``). Returns int64 ``(MAX_SEATS,)``:
    the final rank of each seat group (rotated as in the encoder), -1 for absent seats.
    """
    n = num_players
    if sorted(ranking) != list(range(1, n + 1)):
        raise ValueError(f"ranking {ranking} is not a permutation of seats 1..{n}")
    out = np.full(MAX_SEATS, -1, dtype=np.int64)
    for rank, seat in enumerate(ranking):
        out[(seat - current_player) % n] = rank
    return out


def build_model(config: ModelConfig, seed: int | None = None) -> RingRiftNet:
    """A freshly initialised network (deterministic when ``seed`` is given)."""
    if seed is None:
        return RingRiftNet(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return RingRiftNet(config)
