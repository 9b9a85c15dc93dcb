"""Model files: safetensors weights with the model card inside, plus a JSON sidecar.

A model is one file ``<sha256>.safetensors`` whose name is the sha256 of its bytes (its
content id, used as the model id everywhere). The card -- what the model is and where it
came from -- travels inside the file, as the safetensors header metadata entry
``ringrift_card`` (sorted-key JSON), so the hash covers weights and card together. A copy
of the card is written beside it as ``<sha256>.json`` for readers that never open weights
(the registry, the UI); ``load_model`` checks that copy against the embedded one.

Loading never unpickles: weights come from safetensors, the card from JSON, and the
network is rebuilt from the card's ``model_config`` (``torch.load`` is never used).
Writes are atomic (temp file, fsync, ``os.replace``); an existing file with the same
content id is left as it is.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from ringrift_tasks.ai.actions import ACTION_ENCODING_VERSION
from ringrift_tasks.ai.encoding import ENCODER_VERSION
from ringrift_tasks.ai.network import ModelConfig, ModelConfigError, RingRiftNet
from ringrift_tasks.atomic import atomic_write_bytes
from ringrift_tasks.rules.state import GameConfig

CARD_FORMAT = "ringrift-model-card/1"
CARD_METADATA_KEY = "ringrift_card"
CALIBRATION_RANGE = (0.5, 2.0)
_REPO = Path(__file__).resolve().parents[2]


class ModelFileError(ValueError):
    """A model file or card that cannot be loaded; the message names the file and field."""


def code_version() -> str:
    """``git describe --always --dirty`` of this checkout, or ``unknown`` outside git."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=_REPO,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class ModelCard:
    """What a model is (``model_config``, encoders) and where it came from.

    ``config``: the board config it was trained for (``square8_2p``); ``parent``: the
    model id (content sha256) it was trained from, None for a fresh network;
    ``data_window``: a description of the training data (e.g. games/sample ranges);
    ``metrics``: training/evaluation figures; ``calibration_temperature``: the value
    head's temperature (in [0.5, 2]).
    """

    config: str
    model_config: ModelConfig
    parent: str | None = None
    data_window: dict[str, Any] = field(default_factory=dict)
    code_version: str = field(default_factory=code_version)
    created_at: str = field(default_factory=_now)
    metrics: dict[str, Any] = field(default_factory=dict)
    calibration_temperature: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """The card's JSON object (encoder versions repeated at the top for readers)."""
        return {
            "format": CARD_FORMAT,
            "config": self.config,
            "model_config": self.model_config.to_dict(),
            "encoder_version": self.model_config.encoder_version,
            "action_encoding_version": self.model_config.action_encoding_version,
            "parent": self.parent,
            "data_window": self.data_window,
            "code_version": self.code_version,
            "created_at": self.created_at,
            "metrics": self.metrics,
            "calibration_temperature": self.calibration_temperature,
        }

    @staticmethod
    def from_dict(data: Any, where: str = "card") -> ModelCard:
        """Validate a card object; ``ModelFileError`` names ``where`` and the bad field."""
        if not isinstance(data, dict):
            raise ModelFileError(f"{where}: expected a JSON object, got {type(data).__name__}")
        expected = {
            "format",
            "config",
            "model_config",
            "encoder_version",
            "action_encoding_version",
            "parent",
            "data_window",
            "code_version",
            "created_at",
            "metrics",
            "calibration_temperature",
        }
        missing = expected - set(data)
        if missing:
            raise ModelFileError(f"{where}: missing field(s) {sorted(missing)}")
        unknown = set(data) - expected
        if unknown:
            raise ModelFileError(f"{where}: unknown field(s) {sorted(unknown)}")
        if data["format"] != CARD_FORMAT:
            raise ModelFileError(f"{where}.format: {data['format']!r}, expected {CARD_FORMAT!r}")
        for key, want in (
            ("encoder_version", ENCODER_VERSION),
            ("action_encoding_version", ACTION_ENCODING_VERSION),
        ):
            if data[key] != want:
                raise ModelFileError(
                    f"{where}.{key}: {data[key]!r}, but this code has version {want}"
                )
        try:
            model_config = ModelConfig.from_dict(data["model_config"])
        except (ModelConfigError, TypeError) as exc:
            raise ModelFileError(f"{where}.model_config: {exc}") from None
        try:
            game = GameConfig.parse(data["config"]) if isinstance(data["config"], str) else None
        except ValueError as exc:
            raise ModelFileError(f"{where}.config: {exc}") from None
        if game is None:
            raise ModelFileError(f"{where}.config: expected a name like 'square8_2p'")
        if game.board_type != model_config.board_type:
            raise ModelFileError(
                f"{where}.config: {data['config']!r} is not a {model_config.board_type} config"
            )
        parent = data["parent"]
        if parent is not None and not (isinstance(parent, str) and parent):
            raise ModelFileError(f"{where}.parent: expected a model id or null, got {parent!r}")
        for key in ("data_window", "metrics"):
            if not isinstance(data[key], dict):
                raise ModelFileError(f"{where}.{key}: expected an object, got {data[key]!r}")
        for key in ("code_version", "created_at"):
            if not isinstance(data[key], str):
                raise ModelFileError(f"{where}.{key}: expected a string, got {data[key]!r}")
        temp = data["calibration_temperature"]
        lo, hi = CALIBRATION_RANGE
        if not isinstance(temp, int | float) or isinstance(temp, bool) or not lo <= temp <= hi:
            raise ModelFileError(
                f"{where}.calibration_temperature: {temp!r}, expected a number in [{lo}, {hi}]"
            )
        return ModelCard(
            config=data["config"],
            model_config=model_config,
            parent=parent,
            data_window=data["data_window"],
            code_version=data["code_version"],
            created_at=data["created_at"],
            metrics=data["metrics"],
            calibration_temperature=float(temp),
        )


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A loaded model: the network (eval mode, on CPU unless asked), its card and its id."""

    model: RingRiftNet
    card: ModelCard
    model_id: str
    path: Path


def _card_json(card: ModelCard) -> str:
    return json.dumps(card.to_dict(), sort_keys=True, separators=(",", ":"))


def save_model(model: RingRiftNet, card: ModelCard, directory: Path) -> tuple[Path, str]:
    """Write ``model`` with ``card`` into ``directory``; returns ``(path, content_sha256)``.

    The file is ``<content_sha256>.safetensors`` with ``<content_sha256>.json`` beside it.
    Raises ``ModelFileError`` when the card's ``model_config`` is not the model's.
    """
    if card.model_config != model.config:
        raise ModelFileError(
            f"card.model_config ({card.model_config.name}) is not the model's ({model.config.name})"
        )
    ModelCard.from_dict(card.to_dict())  # the same checks a reader will make
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    card_text = _card_json(card)
    blob = save_safetensors(tensors, metadata={CARD_METADATA_KEY: card_text})
    sha = hashlib.sha256(blob).hexdigest()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{sha}.safetensors"
    sidecar = directory / f"{sha}.json"
    if not path.exists():
        atomic_write_bytes(path, blob)
    if not sidecar.exists():
        atomic_write_bytes(sidecar, (card_text + "\n").encode("utf-8"))
    return path, sha


def _header_metadata(blob: bytes, path: Path) -> dict[str, str]:
    if len(blob) < 8:
        raise ModelFileError(f"{path}: too short to be a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ModelFileError(f"{path}: safetensors header length {n} exceeds the file")
    try:
        header = json.loads(blob[8 : 8 + n])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: safetensors header is not JSON ({exc})") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path}: no metadata in the safetensors header")
    return meta


def read_card(path: Path) -> ModelCard:
    """The validated card embedded in a model file (weights are not loaded)."""
    path = Path(path)
    return _load_card(path.read_bytes(), path)


def _load_card(blob: bytes, path: Path) -> ModelCard:
    meta = _header_metadata(blob, path)
    text = meta.get(CARD_METADATA_KEY)
    if text is None:
        raise ModelFileError(f"{path}: metadata has no {CARD_METADATA_KEY!r} entry")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{path}: card is not JSON ({exc})") from None
    return ModelCard.from_dict(data, where=f"{path.name}: card")


def load_model(path: Path, device: str | torch.device = "cpu") -> LoadedModel:
    """Load and validate a model file; raises ``ModelFileError`` naming what is wrong.

    Checks: the file's sha256 equals its name (when named by hash), the embedded card
    (format, versions, model config, fields), the sidecar card if present (must equal the
    embedded one), and that the weights fit the architecture exactly.
    """
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read ({exc.strerror})") from None
    sha = hashlib.sha256(blob).hexdigest()
    stem = path.name.removesuffix(".safetensors")
    if len(stem) == 64 and all(ch in "0123456789abcdef" for ch in stem) and stem != sha:
        raise ModelFileError(f"{path}: content sha256 is {sha}, not the {stem} its name says")
    card = _load_card(blob, path)
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        try:
            side = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"{sidecar}: unreadable card ({exc})") from None
        if side != card.to_dict():
            diff = sorted(
                k for k in set(side) | set(card.to_dict()) if side.get(k) != card.to_dict().get(k)
            )
            raise ModelFileError(
                f"{sidecar}: card differs from the one inside {path.name} in {diff}"
            )
    try:
        tensors = load_safetensors(blob)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{path}: bad safetensors payload ({exc})") from None
    model = RingRiftNet(card.model_config)
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError as exc:  # shape mismatches
        raise ModelFileError(
            f"{path}: weights do not fit {card.model_config.name}: {exc}"
        ) from None
    if result.missing_keys or result.unexpected_keys:
        raise ModelFileError(
            f"{path}: weights do not fit {card.model_config.name}: missing "
            f"{result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    model.to(device)
    model.eval()
    return LoadedModel(model, card, sha, path)
