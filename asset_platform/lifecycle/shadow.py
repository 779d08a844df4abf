"""Shadow scoring: a challenger that passed the gate scores production beside the champion until the
labeled batches' evidence (an anytime-valid confidence sequence, registry/sequential.py) promotes or retires it.

The challenger alias lives in the champion pointer's own history: the gate, when the
declaration asks for a shadow period, records decision "shadowed" with the
`challenger_version` instead of promoting (the pointer's bytes stay the same, so
nothing downstream goes stale); a later "promoted", "rolled back" or "retired"
ends the period. `current_challenger` (registry/shadow.py) reads it back from the event log.

`<model>/shadow_comparison` (partitioned like the batches, run with `performance`
when labels land) stores each row's paired loss difference, champion minus
challenger (positive: the challenger is better), and plots the running bounds of
every batch so far of the same challenger. The loss is Brier's: of the positive
class's probability (binary), or summed over every class's (multiclass, in [0, 2]:
the challenger's probabilities are stored per row as one list, `ClassScoresColumn`);
a regression model's is the scaled squared error. `<model>_shadow_sensor` (sensors/shadow.py)
decides.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import (
    CHALLENGER_VERSION,
    PREDICTION,
    PREDICTIONS,
    SHADOW_COMPARISON,
    SHADOW_PREDICTION,
    LifecycleNames,
)
from asset_platform.landing import LandingZone
from asset_platform.lifecycle.frames import Frame
from asset_platform.registry.shadow import shadow_loss, shadow_sequence

if TYPE_CHECKING:
    from asset_platform.registry.sequential import PairedSequence


def shadow_comparison_asset(
    declaration: ModelDeclaration, names: LifecycleNames, partitions: dg.DynamicPartitionsDefinition
) -> dg.AssetsDefinition:
    shadow = declaration.shadow
    loss = shadow_loss(declaration.task)

    @dg.asset(
        key=names.key(SHADOW_COMPARISON),
        group_name=names.group("monitoring"),
        partitions_def=partitions,
        kinds={"pandas"},
        code_version="1",
        ins={"predictions": dg.AssetIn(key=names.key(PREDICTIONS))},
        description=f"{declaration.name}: champion vs shadow challenger on one labeled batch, row by row: the "
        f"paired {loss} difference (champion minus challenger, positive: the challenger is better), and the "
        f"running {100 * (1 - shadow.alpha):.0f}% anytime-valid interval over every batch of this challenger.",
    )
    def shadow_comparison(
        context: dg.AssetExecutionContext, predictions: Frame, landing: LandingZone
    ) -> dg.MaterializeResult:
        import pandas as pd

        from asset_platform.registry.sequential import paired_loss_differences

        batch = context.partition_key
        if SHADOW_PREDICTION not in predictions.columns:
            return dg.MaterializeResult(
                value=pd.DataFrame({declaration.id_column: [], "loss_difference": []}),
                metadata={"challenger_version": "", "rows": 0, "note": "no challenger in shadow on this batch"},
            )
        labels = landing.for_model(declaration).read_labels(batch)
        joined = predictions.merge(labels, on=declaration.id_column, how="inner")
        if joined.empty:
            raise dg.Failure(f"labels of batch {batch} match none of its {len(predictions)} rows")
        differences = paired_loss_differences(*paired_scores(declaration, joined, batch), loss, shadow.loss_scale)
        challenger = str(joined[CHALLENGER_VERSION].iloc[0])
        metadata: dict[str, Any] = {
            CHALLENGER_VERSION: challenger,
            "champion_version": str(joined["champion_version"].iloc[0]),
            "loss": loss,
            "rows": dg.MetadataValue.int(len(joined)),
            "mean_loss_difference": dg.MetadataValue.float(float(differences.mean())),
            "loss_differences": dg.MetadataValue.json([round(float(d), 6) for d in differences]),
        }
        # The running bounds including this batch: earlier batches of the same challenger, then this one.
        sequence, seen = shadow_sequence(context.instance, declaration, names, challenger)
        if batch not in seen:
            sequence.add(differences)
        if sequence.history:
            decision = sequence.decision()
            metadata["running_lower"] = dg.MetadataValue.float(decision.lower)
            metadata["running_upper"] = dg.MetadataValue.float(decision.upper)
            metadata["decision_so_far"] = decision.action
            metadata["reason"] = decision.reason
            metadata["running_bounds"] = _plot(sequence, shadow.margin)
        value = pd.DataFrame(
            {declaration.id_column: joined[declaration.id_column].to_numpy(), "loss_difference": differences}
        )
        return dg.MaterializeResult(value=value, metadata=metadata)

    return shadow_comparison


class ClassScoresColumn:
    """A multiclass shadow challenger as the batch engines score it: one value per row, the row's probability of
    each declared class as a list in class order.

    The engines keep the shadow challenger's `predict` output as the one `shadow_prediction` column, as they
    keep a binary or regression challenger's single score; a multiclass model predicts K numbers per row,
    kept whole in that column (Parquet list<double>) so that the comparison sees every class's probability.
    """

    def __init__(self, model: Any) -> None:
        self.model = model

    @property
    def extra(self) -> dict[str, Any]:
        return self.model.extra  # `score_rows` reads the feature pipeline from it

    def predict(self, features: Any) -> Any:
        import numpy as np

        scores = self.model.predict(features)
        rows = np.empty(len(scores), dtype=object)
        for index, row in enumerate(scores.tolist()):
            rows[index] = row
        return rows


def shadow_challenger(declaration: ModelDeclaration, model: Any, version: str) -> Any:
    """The challenger as the batch engines score it beside the champion (see `ClassScoresColumn`)."""
    if declaration.task != "multiclass":
        return model
    if model.classes != declaration.label_classes:
        raise dg.Failure(
            f"{declaration.name}: the challenger in shadow {version[:8]} predicts the classes {model.classes}, not "
            f"the declared columns.{declaration.label_column}.categories {declaration.label_classes}: retire it "
            f"(asset-platform models history shows it; the set_champion job's action: retire)"
        )
    return ClassScoresColumn(model)


def paired_scores(declaration: ModelDeclaration, joined: Frame, batch: str) -> tuple[Any, Any, Any]:
    """(labels, champion scores, challenger scores) of a batch's labeled predictions rows, as
    `paired_loss_differences` reads them; for a multiclass model the labels' class codes and both models'
    rows x K probabilities (the champion's `score_<class>` columns, the challenger's lists)."""
    import numpy as np

    if declaration.task != "multiclass":
        return (
            joined[declaration.label_column].to_numpy(),
            joined[PREDICTION].to_numpy(),
            joined[SHADOW_PREDICTION].to_numpy(),
        )
    from asset_platform.ml.columns import score_columns
    from asset_platform.ml.scoring import label_values

    classes = declaration.label_classes
    try:
        labels = label_values(declaration, joined)
    except ValueError as error:
        raise dg.Failure(f"{declaration.name}: the labels of batch {batch}: {error}") from None
    champion = joined[score_columns(classes)].to_numpy(dtype=np.float64)
    lengths = {len(row) for row in joined[SHADOW_PREDICTION]}
    if lengths != {len(classes)}:
        raise dg.Failure(
            f"{declaration.name}: batch {batch}'s {SHADOW_PREDICTION} holds {sorted(lengths)} probabilities per "
            f"row, not one per declared class of {declaration.label_column!r} ({len(classes)}): score the batch "
            "again with a challenger trained on the declared classes"
        )
    challenger = np.stack([np.asarray(row, dtype=np.float64) for row in joined[SHADOW_PREDICTION]])
    return labels, champion, challenger


def _plot(sequence: "PairedSequence", margin: float) -> Any:
    try:
        from asset_platform.reports import line_chart_markdown

        history = sequence.history
        chart = line_chart_markdown(
            {
                "lower bound": [h["lower"] for h in history],
                "mean difference": [h["mean"] for h in history],
                "upper bound": [h["upper"] for h in history],
                "-margin": [-margin] * len(history),
            },
            "champion minus challenger loss: running anytime-valid interval",
            "labeled batch",
            "loss difference",
        )
        return dg.MetadataValue.md(chart)
    except Exception as error:  # a plot must never fail the comparison
        return dg.MetadataValue.text(f"plot unavailable: {error}")
