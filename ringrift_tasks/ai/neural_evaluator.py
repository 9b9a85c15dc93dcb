"""Batched network inference behind the search seam (``ai.evaluator.Evaluator``).

One ``evaluate`` call encodes all positions (from many games at once), runs one forward
pass in ``torch.inference_mode`` (CUDA with autocast when available), gathers only the
logits of each position's legal moves (``actions.encode_moves``) and softmaxes over those,
and turns the rank head into one value per seat, rotated back to absolute seat order
(seat 1 first). Not thread-safe: one evaluator per thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ringrift_tasks.ai.actions import encode_moves
from ringrift_tasks.ai.encoding import MAX_SEATS, encode_batch
from ringrift_tasks.ai.evaluator import Evaluation
from ringrift_tasks.ai.model_file import load_model
from ringrift_tasks.ai.network import RingRiftNet, rank_scores
from ringrift_tasks.rules.moves import Move
from ringrift_tasks.rules.state import GameState

log = logging.getLogger(__name__)


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when there is one, else the CPU (logged)."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        log.info("no CUDA device: neural inference falls back to the CPU")
        return torch.device("cpu")
    return torch.device(device)


class NeuralEvaluator:
    """An ``Evaluator`` backed by a ``RingRiftNet``.

    ``amp``: autocast (float16) on CUDA; ignored on the CPU. ``temperature``: the value
    calibration temperature (the model card's ``calibration_temperature``).
    ``name``: identifies the evaluator in records (default: the model config's name).
    """

    def __init__(
        self,
        model: RingRiftNet,
        device: str | torch.device = "auto",
        amp: bool = True,
        *,
        temperature: float = 1.0,
        name: str | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.amp = amp and self.device.type == "cuda"
        self.temperature = float(temperature)
        self.board_type = model.config.board_type
        self.policy_size = model.config.policy_size
        self.name = name or model.config.name
        self._scores = {n: rank_scores(n).numpy() for n in range(2, MAX_SEATS + 1)}

    @classmethod
    def from_file(
        cls, path: Path, device: str | torch.device = "auto", amp: bool = True
    ) -> NeuralEvaluator:
        """Load a model file; the evaluator is named by the model id (content sha256)."""
        loaded = load_model(path)
        return cls(
            loaded.model,
            device,
            amp,
            temperature=loaded.card.calibration_temperature,
            name=loaded.model_id,
        )

    def forward(
        self,
        states: Sequence[GameState],
        histories: Sequence[Sequence[GameState]] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw network output for ``states``: ``(policy logits, rank logits)`` on the device."""
        planes, glob = encode_batch(states, histories)
        x = torch.from_numpy(planes)
        g = torch.from_numpy(glob)
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
            g = g.pin_memory().to(self.device, non_blocking=True)
        with (
            torch.inference_mode(),
            torch.autocast(device_type="cuda", dtype=torch.float16, enabled=self.amp),
        ):
            out = self.model(x, g)
        return out.policy, out.rank

    def evaluate(
        self,
        states: Sequence[GameState],
        legal: Sequence[Sequence[Move]],
        histories: Sequence[Sequence[GameState]] | None = None,
    ) -> list[Evaluation]:
        """Priors over ``legal[i]`` and per-seat values for each of ``states`` (one pass).

        ``histories[i]`` (optional): the states before ``states[i]``, most recent first,
        for the encoder's history planes. Raises ``ValueError`` for a position of another
        board type than the model's.
        """
        if len(states) != len(legal):
            raise ValueError(f"{len(states)} states but {len(legal)} legal lists")
        if not states:
            return []
        for i, s in enumerate(states):
            if s.geo.board_type != self.board_type:
                raise ValueError(
                    f"states[{i}] is a {s.geo.board_type} position; this model plays "
                    f"{self.board_type}"
                )
        policy, rank = self.forward(states, histories)
        # Gather only the legal logits on the device: far less to copy than the full policy.
        counts = [len(m) for m in legal]
        flat = np.concatenate(
            [
                encode_moves(m, s) + i * self.policy_size
                for i, (s, m) in enumerate(zip(states, legal, strict=True))
            ]
            + [np.zeros(0, dtype=np.int64)]
        )
        with torch.inference_mode():
            picked = policy.reshape(-1)[torch.from_numpy(flat).to(policy.device)]
            logits = picked.float().cpu().numpy().astype(np.float64)
            rank_logits = rank.float().cpu().numpy().astype(np.float64) / self.temperature
        out: list[Evaluation] = []
        start = 0
        for i, s in enumerate(states):
            seg = logits[start : start + counts[i]]
            start += counts[i]
            if len(seg):
                e = np.exp(seg - seg.max())
                priors = (e / e.sum()).astype(np.float32)
            else:
                priors = np.zeros(0, dtype=np.float32)
            out.append(Evaluation(priors, self._values(rank_logits[i], s)))
        return out

    def _values(self, rank_logits: np.ndarray, s: GameState) -> np.ndarray:
        n = s.num_players
        z = rank_logits[:n, :n]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        by_group = probs @ self._scores[n]
        values = np.empty(n, dtype=np.float32)
        cur = s.current_player
        for g in range(n):
            values[(cur - 1 + g) % n] = by_group[g]
        return np.clip(values, -1.0, 1.0)
