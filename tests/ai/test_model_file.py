"""Model files: content-named safetensors with an embedded card; strict, pickle-free loading."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors

from ringrift_tasks.ai.encoding import encode_batch
from ringrift_tasks.ai.model_file import (
    CARD_METADATA_KEY,
    ModelCard,
    ModelFileError,
    load_model,
    read_card,
    save_model,
)
from ringrift_tasks.ai.network import RingRiftNet, build_model, default_model_config
from ringrift_tasks.rules import new_game


def small_model(seed: int = 0) -> RingRiftNet:
    return build_model(default_model_config("square8", blocks=2, channels=16), seed=seed)


def card_for(model: RingRiftNet, **fields: object) -> ModelCard:
    base: dict[str, object] = {
        "config": "square8_2p",
        "model_config": model.config,
        "parent": "f" * 64,
        "data_window": {"games": [0, 300]},
        "metrics": {"policy_loss": 2.5},
        "calibration_temperature": 1.25,
    }
    base.update(fields)
    return ModelCard(**base)  # type: ignore[arg-type]


def outputs(model: RingRiftNet) -> tuple[torch.Tensor, torch.Tensor]:
    planes, glob = encode_batch([new_game("square8_2p")])
    model.eval()
    with torch.inference_mode():
        out = model(torch.from_numpy(planes), torch.from_numpy(glob))
    return out.policy, out.rank


def rewrite_card(path: Path, dest: Path, change: dict[str, object]) -> None:
    """Write a copy of ``path`` whose embedded card has ``change`` applied."""
    loaded = load_model(path)
    card = loaded.card.to_dict() | change
    tensors = {k: v.contiguous() for k, v in loaded.model.state_dict().items()}
    dest.write_bytes(save_safetensors(tensors, metadata={CARD_METADATA_KEY: json.dumps(card)}))


def test_round_trip_gives_the_same_outputs_and_card(tmp_path: Path) -> None:
    model = small_model()
    card = card_for(model)
    path, sha = save_model(model, card, tmp_path)
    assert path == tmp_path / f"{sha}.safetensors"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha
    loaded = load_model(path)
    assert loaded.model_id == sha and loaded.card == card
    for a, b in zip(outputs(model), outputs(loaded.model), strict=True):
        assert torch.equal(a, b)
    sidecar = json.loads((tmp_path / f"{sha}.json").read_text())
    assert sidecar == card.to_dict() and read_card(path) == card
    assert sidecar["encoder_version"] == 1 and sidecar["action_encoding_version"] == 1


def test_saving_the_same_content_twice_is_one_file(tmp_path: Path) -> None:
    model = small_model()
    card = card_for(model)
    assert save_model(model, card, tmp_path) == save_model(model, card, tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    assert not list(tmp_path.glob("*.tmp"))


def test_a_tampered_sidecar_card_is_rejected(tmp_path: Path) -> None:
    path, sha = save_model(small_model(), card_for(small_model()), tmp_path)
    sidecar = tmp_path / f"{sha}.json"
    card = json.loads(sidecar.read_text())
    card["calibration_temperature"] = 0.7
    sidecar.write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match=r"differs .* \['calibration_temperature'\]"):
        load_model(path)


def test_a_file_whose_bytes_do_not_match_its_name_is_rejected(tmp_path: Path) -> None:
    path, _ = save_model(small_model(), card_for(small_model()), tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    forged = other / path.name
    rewrite_card(path, forged, {"parent": None})
    with pytest.raises(ModelFileError, match="content sha256"):
        load_model(forged)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"encoder_version": 2}, "encoder_version"),
        ({"action_encoding_version": 0}, "action_encoding_version"),
        ({"calibration_temperature": 3.0}, "calibration_temperature"),
        ({"config": "hex8_2p"}, "config"),
        ({"format": "something/9"}, "format"),
        ({"metrics": []}, "metrics"),
    ],
)
def test_a_card_with_a_bad_field_is_rejected_naming_it(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    path, _ = save_model(small_model(), card_for(small_model()), tmp_path)
    bad = tmp_path / "bad.safetensors"
    rewrite_card(path, bad, change)
    with pytest.raises(ModelFileError, match=rf"card\.{field}"):
        load_model(bad)


def test_a_model_config_version_mismatch_is_named(tmp_path: Path) -> None:
    path, _ = save_model(small_model(), card_for(small_model()), tmp_path)
    bad = tmp_path / "bad.safetensors"
    config = read_card(path).model_config.to_dict() | {"architecture_version": 7}
    config.pop("name")
    rewrite_card(path, bad, {"model_config": config})
    with pytest.raises(ModelFileError, match=r"model_config.*architecture_version: 7"):
        load_model(bad)


def test_weights_that_do_not_fit_the_card_are_rejected(tmp_path: Path) -> None:
    model = small_model()
    path, _ = save_model(model, card_for(model), tmp_path)
    wider = build_model(default_model_config("square8", blocks=2, channels=32), seed=0)
    card = read_card(path).to_dict()
    bad = tmp_path / "bad.safetensors"
    tensors = {k: v.contiguous() for k, v in wider.state_dict().items()}
    bad.write_bytes(save_safetensors(tensors, metadata={CARD_METADATA_KEY: json.dumps(card)}))
    with pytest.raises(ModelFileError, match="weights do not fit"):
        load_model(bad)


def test_loading_never_unpickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = save_model(small_model(), card_for(small_model()), tmp_path)
    blob = path.read_bytes()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])  # a safetensors file: JSON header, raw tensors
    assert CARD_METADATA_KEY in header["__metadata__"]
    assert not blob.startswith(b"\x80") and b"PK\x03\x04" not in blob[:8]

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("torch.load called")

    monkeypatch.setattr(torch, "load", forbidden)
    load_model(path)


def test_a_pickle_file_is_not_a_model(tmp_path: Path) -> None:
    pt = tmp_path / "model.pt"
    torch.save(small_model().state_dict(), pt)
    with pytest.raises(ModelFileError, match="model.pt"):
        load_model(pt)


def test_save_refuses_a_card_for_another_model(tmp_path: Path) -> None:
    other = build_model(default_model_config("square8", blocks=3, channels=16))
    with pytest.raises(ModelFileError, match="not the model's"):
        save_model(small_model(), card_for(other), tmp_path)
