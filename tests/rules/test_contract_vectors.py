"""The upstream contract vectors: every vector the reference engine passes passes here."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ringrift_tasks.cli import app
from ringrift_tasks.rules.contracts import (
    AWAITING_DECISION,
    COMPLETE,
    PASS,
    SKIP,
    THROW,
    ContractVector,
    bundle_paths,
    load_bundle,
    load_reference_results,
    run_vector,
    state_from_contract,
    turn_status,
)

REPO = Path(__file__).resolve().parents[2]
VECTORS_DIR = REPO / "tests" / "data" / "contract_vectors"
REFERENCE = load_reference_results(VECTORS_DIR / "RESULTS.json")
ALL_VECTORS = {v.id: v for path in bundle_paths([VECTORS_DIR]) for v in load_bundle(path)}
REFERENCE_PASSES = sorted(vid for vid, result in REFERENCE.items() if result == PASS)
REFERENCE_SKIPS = sorted(vid for vid, result in REFERENCE.items() if result == SKIP)

runner = CliRunner()


def test_vendored_bundles_hold_every_vector_the_reference_results_name() -> None:
    assert len(bundle_paths([VECTORS_DIR])) == 18
    assert set(ALL_VECTORS) == set(REFERENCE)
    assert len(REFERENCE_PASSES) == 56


@pytest.mark.parametrize("vector_id", REFERENCE_PASSES)
def test_vector_the_reference_passes_passes(vector_id: str) -> None:
    outcome = run_vector(ALL_VECTORS[vector_id])

    assert outcome.result == PASS, outcome.reason


@pytest.mark.parametrize("vector_id", REFERENCE_SKIPS)
def test_vector_the_reference_skips_is_skipped(vector_id: str) -> None:
    assert run_vector(ALL_VECTORS[vector_id]).result == SKIP


def _with_assertion(vector_id: str, kind: str, value: object) -> ContractVector:
    v = ALL_VECTORS[vector_id]
    data = copy.deepcopy(v.data)
    data["expectedOutput"]["assertions"][kind] = value
    return ContractVector(v.id, v.file, v.category, v.description, data)


def test_a_wrong_expected_count_fails_and_names_the_assertion() -> None:
    vector = _with_assertion("movement.simple.one_space", "stackCount", 99)

    outcome = run_vector(vector)

    assert outcome.result == "fail"
    assert "stackCount: expected 99" in outcome.reason


def test_an_assertion_the_reference_does_not_check_is_a_note_not_a_failure() -> None:
    vector = _with_assertion("movement.simple.one_space", "sInvariantDelta", 42)

    outcome = run_vector(vector)

    assert outcome.result == PASS
    assert any(note.startswith("sInvariantDelta: expected 42") for note in outcome.notes)


def test_a_state_that_names_an_off_board_stack_throws_naming_the_field() -> None:
    v = ALL_VECTORS["movement.simple.one_space"]
    data = copy.deepcopy(v.data)
    data["input"]["state"]["board"]["stacks"]["9,9"] = {"rings": [1]}

    outcome = run_vector(ContractVector(v.id, v.file, v.category, v.description, data))

    assert outcome.result == THROW
    assert "state.board.stacks[9,9]" in outcome.reason


def test_a_chain_capture_with_more_segments_awaits_a_decision() -> None:
    v = ALL_VECTORS["chain_capture.depth3.segment1.square8"]
    s = state_from_contract(v.data["input"]["state"])
    assert turn_status(s, 1) == COMPLETE  # the turn has not started deciding yet

    outcome = run_vector(v)

    assert v.data["expectedOutput"]["status"] == AWAITING_DECISION
    assert outcome.result == PASS


def test_cli_contracts_exits_zero_when_every_reference_pass_passes() -> None:
    result = runner.invoke(app, ["contracts", str(VECTORS_DIR)])

    assert result.exit_code == 0, result.output
    summary = next(line for line in result.output.splitlines() if line.startswith("contracts:"))
    assert summary.endswith("(reference: 56 pass, 4 fail, 11 throw, 19 skip)")
    assert "REGRESSION" not in result.output
    for vector_id in REFERENCE_PASSES:
        assert f"pass  {vector_id} (reference: pass)" in result.output


def test_cli_contracts_exits_one_when_a_reference_pass_vector_fails(tmp_path: Path) -> None:
    bundle = json.loads((VECTORS_DIR / "movement.vectors.json").read_text())
    target = next(v for v in bundle["vectors"] if v["id"] == "movement.simple.one_space")
    target["expectedOutput"]["assertions"]["markerCount"] = 77
    (tmp_path / "movement.vectors.json").write_text(json.dumps(bundle))
    (tmp_path / "RESULTS.json").write_text((VECTORS_DIR / "RESULTS.json").read_text())

    result = runner.invoke(app, ["contracts", str(tmp_path)])

    assert result.exit_code == 1, result.output
    assert "REGRESSION movement.simple.one_space" in result.output
    assert "markerCount: expected 77" in result.output


def test_cli_contracts_exits_two_for_a_missing_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["contracts", str(tmp_path / "absent")])

    assert result.exit_code == 2
    assert "contract path not found" in result.output


def test_cli_contracts_exits_two_without_reference_results(tmp_path: Path) -> None:
    (tmp_path / "movement.vectors.json").write_text(
        (VECTORS_DIR / "movement.vectors.json").read_text()
    )

    result = runner.invoke(app, ["contracts", str(tmp_path)])

    assert result.exit_code == 2
    assert "reference results not found" in result.output
