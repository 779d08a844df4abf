"""BatchEvidence: one typed record of what a batch showed, read back from metadata old and new, with one verdict."""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace
from pathlib import Path

import dagster as dg
import pytest

from asset_platform.drift.evidence import (
    ASSESSMENT,
    DEGRADATION,
    LABEL_SHIFT,
    STATUS,
    BatchEvidence,
)
from asset_platform.drift.policy import BatchAssessment

DRIFTED = BatchEvidence(
    batch_key="2026-03-02",
    n_rows=2_000,
    judged=True,
    feature_status="error",
    feature_drift=True,
    drift_share=0.25,
    drifted_features=("price", "device"),
    max_psi=0.41,
    estimated_metric=0.71,
    estimate_reference=0.8,
    estimated_drop=0.09,
    max_estimated_drop=0.05,
    realized_metric=0.7,
    degradation=0.1,
    max_drop=0.05,
    label_shift=0.1,
    max_label_shift=0.2,
    reference_version="abc123",
    reference_champion_version="v7",
    batch_start="2026-03-02T00:00:00",
)


def test_metadata_round_trip_through_dagster_and_json() -> None:
    metadata = DRIFTED.to_metadata()
    assert metadata[STATUS] == "error"
    assert isinstance(metadata[ASSESSMENT], dg.JsonMetadataValue)
    assert BatchEvidence.from_metadata(metadata) == DRIFTED
    # As the event log gives it back (plain values) and as a sensor cursor keeps it (JSON).
    plain = {name: getattr(value, "value", value) for name, value in metadata.items()}
    assert BatchEvidence.from_metadata(json.loads(json.dumps(plain))) == DRIFTED
    assert BatchEvidence.from_record(json.loads(json.dumps(DRIFTED.to_record()))) == DRIFTED


def test_the_record_keeps_the_keys_the_ui_and_older_readers_know() -> None:
    record = DRIFTED.to_record()
    assert record["status"] == "error" and record["drift_detected"] is True
    # Signals are listed with the features, as the drift asset always listed them.
    assert record["drifted_features"] == ["device", "estimated_performance", "performance", "price"]
    assert record["feature_drift"] == {"status": "error", "detected": True, "features": ["price", "device"]}
    unmeasured = BatchEvidence("d1", n_rows=600, judged=True, feature_status="pass").to_record()
    assert "degradation" not in unmeasured and "estimated_metric" not in unmeasured  # not measured: left out


def test_metadata_an_older_run_recorded_is_read_with_its_verdict() -> None:
    # What the drift asset wrote before BatchEvidence: the estimate folded into the feature lists.
    older = {
        "status": dg.MetadataValue.text("error"),
        "assessment": dg.MetadataValue.json(
            {
                "batch_key": "d9",
                "status": "error",
                "n_rows": 1_500,
                "judged": True,
                "drift_share": 0.0,
                "drift_detected": True,
                "drifted_features": ["estimated_performance"],
                "quality_issues": [],
                "max_psi": 0.02,
                "reference_champion_version": "v3",
                "estimated_metric": 0.61,
            }
        ),
        "features": dg.MetadataValue.md("| feature |"),
    }
    evidence = BatchEvidence.from_metadata(older)
    assert evidence.verdict() == "error" and evidence.drift_detected
    assert evidence.drifted_features == ()  # the signal's name is not a feature
    assert (evidence.estimated_metric, evidence.max_psi, evidence.reference_champion_version) == (0.61, 0.02, "v3")
    assert (evidence.degradation, evidence.label_shift, evidence.estimated_drop) == (None, None, None)


def test_a_cursor_record_an_older_sensor_kept_is_read() -> None:
    # A placeholder for labels that arrived before the assessment: no status, no feature lists.
    placeholder = {"batch_key": "d2", "judged": False, "n_rows": 0, "drift_detected": False, "degradation": 0.5}
    evidence = BatchEvidence.from_record(placeholder)
    assert (evidence.judged, evidence.drift_detected, evidence.degradation, evidence.max_drop) == (
        False,
        False,
        0.5,
        None,
    )
    assert evidence.verdict() == "warn"  # not judged: never an error by labels alone
    with pytest.raises(ValueError, match="to_record"):
        BatchEvidence.from_record({"batch_key": "d3"})


def test_a_performance_materialization_gives_the_labels_evidence() -> None:
    metadata = {
        "metric": "auc",
        "performance/auc": dg.MetadataValue.float(0.7),
        DEGRADATION: dg.MetadataValue.float(0.08),
        LABEL_SHIFT: dg.MetadataValue.float(0.3),
    }
    labels = BatchEvidence.from_metadata(metadata, batch_key="d4")
    assert (labels.batch_key, labels.realized_metric, labels.degradation, labels.label_shift) == ("d4", 0.7, 0.08, 0.3)
    nothing = BatchEvidence.from_metadata({"performance": "nothing to measure", "metric": "auc"}, batch_key="d5")
    assert (nothing.realized_metric, nothing.degradation) == (None, None)


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        ({}, "pass"),
        ({"feature_status": "warn"}, "warn"),
        ({"quality_issues": ("device",)}, "error"),  # data quality beats everything
        ({"quality_issues": ("device",), "judged": False}, "error"),  # even on a batch too small to judge
        ({"feature_status": "error", "feature_drift": True}, "error"),
        ({"estimated_drop": 0.06, "max_estimated_drop": 0.05}, "error"),
        ({"estimated_drop": 0.06, "max_estimated_drop": None}, "pass"),  # the estimate is not used
        ({"degradation": 0.06, "max_drop": 0.05}, "error"),
        ({"degradation": 0.05, "max_drop": 0.05}, "pass"),  # at the limit is within it
        ({"label_shift": 0.3, "max_label_shift": 0.2}, "error"),
        ({"degradation": 0.5, "max_drop": 0.05, "judged": False, "feature_status": "warn"}, "warn"),  # not judged
    ],
)
def test_verdict_precedence(change: dict, verdict: str) -> None:
    base = BatchEvidence("d1", n_rows=2_000, judged=True, feature_status="pass")
    evidence = replace(base, **change)
    assert evidence.verdict() == verdict
    assert evidence.to_metadata()[STATUS] == verdict
    assert BatchEvidence.from_record(evidence.to_record()).verdict() == verdict


def test_the_policy_produces_evidence_with_its_status() -> None:
    assessment = BatchAssessment("d1", "warn", 2_000, 0.1, False, ("price",), (), ("price: psi 0.3",))
    evidence = assessment.evidence()
    assert (evidence.verdict(), evidence.drifted_features, evidence.judged) == ("warn", ("price",), True)
    assert replace(evidence, degradation=0.2, max_drop=0.05).verdict() == "error"


# Keys that name a verdict or its evidence in metadata, records and cursors. Only asset_platform/drift/ may read
# them by string; everyone else goes through BatchEvidence. "status" and "judged" are common words, so they count
# only where the container read is named as metadata or a record.
_EVIDENCE_KEYS = {ASSESSMENT, DEGRADATION, LABEL_SHIFT, "drift_detected", "drifted_features", "quality_issues"}
_COMMON_KEYS = {STATUS, "judged"}
_EVIDENCE_CONTAINER = re.compile(r"metadata|record|assessment|evidence|drift", re.IGNORECASE)


def _verdict_reads(source: str) -> list[str]:
    """Reads of a verdict key by string: `x["key"]`, `x.get("key")`, `"key" in x`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            container, key = node.value, node.slice
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            container, key = node.func.value, node.args[0] if node.args else None
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            container, key = node.comparators[0], node.left
        else:
            continue
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            continue
        named = _EVIDENCE_CONTAINER.search(ast.unparse(container))
        if key.value in _EVIDENCE_KEYS or (key.value in _COMMON_KEYS and named):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_scanner_finds_the_reads_it_forbids() -> None:
    reads = _verdict_reads(
        'metadata["status"]\nrecord.get("drift_detected")\n"performance/degradation" in metadata\n'
        'message["status"]\nrow["status"] = "ok"\n'
    )
    assert [read.split(":")[0] for read in reads] == ["line 1", "line 2", "line 3"]


def test_no_module_outside_drift_reads_a_verdict_key_by_string() -> None:
    package = Path(__file__).resolve().parents[2] / "asset_platform"
    offenders = {
        str(path.relative_to(package.parent)): reads
        for path in sorted(package.rglob("*.py"))
        if package / "drift" not in path.parents and (reads := _verdict_reads(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"read BatchEvidence.from_metadata(...) / .verdict() instead: {offenders}"
