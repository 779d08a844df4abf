"""The shadow period read back from the event log: which challenger is in shadow, and its evidence so far.

The gate records decision "shadowed" with the `challenger_version` in the champion
pointer's history; a later "promoted", "rolled back" or "retired" ends the period.
The shadow sensor (sensors/shadow.py) and the lifecycle's assets (lifecycle/shadow.py)
both read it here, so neither imports the other.
"""

from typing import TYPE_CHECKING, Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import CHALLENGER_VERSION, CHAMPION, SHADOW_COMPARISON, LifecycleNames

if TYPE_CHECKING:
    from asset_platform.registry.sequential import PairedSequence

SHADOWED, RETIRED = "shadowed", "retired"
_ENDS_SHADOW = {"promoted", "rolled back", RETIRED}
# Tags of a set_champion run launched by the shadow sensor, naming its evidence.
SHADOW_EVIDENCE_TAG = "asset_platform/shadow_evidence"
SHADOW_BOUNDS_TAG = "asset_platform/shadow_bounds"


def _text(metadata: dict[str, Any], name: str) -> str:
    value = metadata.get(name)
    return str(getattr(value, "value", value) or "")


def shadow_loss(task: str) -> str:
    """The per-row loss a shadow period compares by (registry/sequential.py `paired_loss_differences`): Brier
    of the positive class's probability, the multiclass Brier score of every class's, or a scaled squared error."""
    from asset_platform.ml.metrics import PAIRED_LOSS

    return PAIRED_LOSS[task]


def current_challenger(instance: dg.DagsterInstance, names: LifecycleNames, scan: int = 100) -> str | None:
    """The version in shadow: the newest "shadowed" champion decision not followed by an end of the period."""
    records = instance.fetch_materializations(names.key(CHAMPION), limit=scan, ascending=False).records
    for record in records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        decision = _text(metadata, "decision")
        if decision == SHADOWED:
            return _text(metadata, "challenger_version") or None
        if decision in _ENDS_SHADOW:
            return None
    return None


def shadow_sequence(
    instance: dg.DagsterInstance, declaration: ModelDeclaration, names: LifecycleNames, challenger: str
) -> "tuple[PairedSequence, list[str]]":
    """The confidence sequence over every stored comparison batch of `challenger`, in the order they landed."""
    from asset_platform.ml.metrics import PAIRED_LOSS_BOUNDS
    from asset_platform.registry.sequential import PairedSequence

    shadow = declaration.shadow
    low, high = PAIRED_LOSS_BOUNDS[shadow_loss(declaration.task)]
    sequence = PairedSequence(
        alpha=shadow.alpha, margin=shadow.margin, low=low, high=high, max_batches=shadow.max_batches
    )
    records = instance.fetch_materializations(names.key(SHADOW_COMPARISON), limit=10_000, ascending=True).records
    latest: dict[str, Any] = {}
    for record in records:  # a re-run of a batch replaces its earlier comparison, keeping the first position
        metadata = record.asset_materialization.metadata
        if _text(metadata, CHALLENGER_VERSION) == challenger and record.partition_key:
            latest[record.partition_key] = metadata
    for metadata in latest.values():
        differences = getattr(metadata.get("loss_differences"), "value", None) or []
        sequence.add(_as_array(differences))
    return sequence, list(latest)


def _as_array(values: list) -> Any:
    import numpy as np

    return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)
