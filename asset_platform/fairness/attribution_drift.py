"""Attribution drift: does a drifted feature actually move the champion's output on a production batch?

The reference is the champion's mean |attribution| per feature on its own
holdout (stored in the reference profile); each batch gets the same figure on a
sample of its rows. A feature can drift a lot and barely matter (its
attribution stays small) or drift a little and move many scores.

The batch's figure is computed where the champion is loaded anyway, by the
predictions step, and stored in its metadata (`BATCH_ATTRIBUTION`) with the
version of the model it came from; the drift step reads it from there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd

if TYPE_CHECKING:
    from asset_platform.declaration import ModelDeclaration
    from asset_platform.ml.explain import Attribution

# A feature "moves the output" when it carries at least this share of the batch's total mean |attribution|.
MOVES_OUTPUT_SHARE = 0.05
_SEED = 0
# The predictions' metadata key of the batch's mean |attribution|: {"champion_version": ..., "mean_abs": {...}}.
BATCH_ATTRIBUTION = "batch_attribution"


def explain_rows(model: Any, rows: pd.DataFrame) -> Attribution:
    """The model's attributions for raw contract rows, featurized by the model's own recorded pipeline."""
    from asset_platform.ml.explain import explain
    from asset_platform.ml.features import FeaturePipeline

    pipeline = FeaturePipeline.from_dict(model.extra["feature_pipeline"])
    return explain(model, pipeline.transform(rows, with_label=False))


def mean_attribution(
    declaration: ModelDeclaration, model: Any, rows: pd.DataFrame, explained: Attribution | None = None
) -> dict[str, float]:
    """The model's mean |attribution| per feature on a sample of raw contract rows ({} when disabled or empty).

    `explained`: the attributions of all of `rows`, where already computed (top reasons). Reused only when the
    sample is all of `rows`: then it is the very same computation, so the figure does not depend on who made it.
    """
    from asset_platform.ml.explain import sample_rows

    if not declaration.explanations.enabled or rows.empty:
        return {}
    sample = sample_rows(rows, declaration.explanations.sample_rows, _SEED)
    if explained is None or len(sample) != len(rows):
        explained = explain_rows(model, sample)
    return explained.mean_abs()


def batch_attribution(version: str, mean_abs: dict[str, float]) -> dict[str, Any]:
    """What the predictions step stores for the drift step: the batch's figure and the model version it is of."""
    return {"champion_version": version, "mean_abs": mean_abs}


def stored_mean_attribution(stored: dict[str, Any] | None, version: str) -> dict[str, float] | None:
    """The batch's mean |attribution| from a `batch_attribution` record, if it is of model `version`; else None."""
    if not stored or stored.get("champion_version") != version or "mean_abs" not in stored:
        return None
    return {name: float(value) for name, value in stored["mean_abs"].items()}


def attribution_drift(reference: dict[str, float], batch: dict[str, float], drifted: list[str]) -> pd.DataFrame:
    """Per feature: drifted or not, reference and batch mean |attribution|, change, and share of the batch's total."""
    total = sum(batch.values()) or 1.0
    columns = ["feature", "drifted", "reference", "batch", "change", "share"]
    frame = pd.DataFrame(
        columns=columns,  # named even for a batch with no figure (no rows): an empty table, not a KeyError
        data=[
            {
                "feature": name,
                "drifted": name in drifted,
                "reference": reference.get(name, float("nan")),
                "batch": value,
                "change": value - reference.get(name, float("nan")),
                "share": value / total,
            }
            for name, value in batch.items()
        ],
    )
    frame["moves_output"] = frame["share"] >= MOVES_OUTPUT_SHARE
    return frame.sort_values("batch", ascending=False).reset_index(drop=True)


def attribution_drift_metadata(
    reference: dict[str, float], batch: dict[str, float], drifted: list[str]
) -> dict[str, Any]:
    """Drift metadata from the reference's and the batch's mean |attribution|: the table, and which drifted
    features move the output."""
    if not reference:
        return {}
    from asset_platform.drift.emptiness import NOTHING_TO_MEASURE

    table = attribution_drift(reference, batch, drifted)
    if table.empty:  # a batch with no rows has no attribution to compare
        return {"attribution_drift": dg.MetadataValue.md(NOTHING_TO_MEASURE)}
    moving = table[table["drifted"] & table["moves_output"]]["feature"].tolist()
    quiet = table[table["drifted"] & ~table["moves_output"]]["feature"].tolist()
    summary = (
        f"drifted features that move the output: {', '.join(moving) or 'none'}; "
        f"drifted but with little effect on the output: {', '.join(quiet) or 'none'}"
    )
    return {
        "attribution_drift": dg.MetadataValue.md(summary + "\n\n" + table.round(4).to_markdown(index=False)),
        "attribution_drift/moving_drifted_features": dg.MetadataValue.json(moving),
        "attribution_drift/values": dg.MetadataValue.json(
            {row["feature"]: {"reference": row["reference"], "batch": row["batch"]} for row in table.to_dict("records")}
        ),
    }


def top_reasons(model: Any, rows: pd.DataFrame, count: int, explained: Attribution | None = None) -> list[str]:
    """Per raw row, its `count` largest attributions as "feature +0.123; ..." (signed, in the model's margin).

    `explained`: `explain_rows(model, rows)`, where already computed.
    """
    import numpy as np

    if rows.empty:
        return []
    attribution = explained if explained is not None else explain_rows(model, rows)
    if len(attribution.values) != len(rows):  # an approximate method explained a sample only
        return [""] * len(rows)
    order = np.argsort(-np.abs(attribution.values), axis=1)[:, :count]
    names = np.asarray(attribution.features, dtype=object)
    return [
        "; ".join(f"{names[j]} {values[j]:+.3f}" for j in top)
        for values, top in zip(attribution.values, order, strict=True)
    ]
