"""The shadow challenger's labeled batches → promote it, retire it, or keep collecting.

Each tick rebuilds the anytime-valid confidence sequence (registry/sequential.py)
from every stored `<model>/shadow_comparison` batch of the challenger in shadow
(the sequence is valid however often it is looked at, so a tick per new batch is
fine). The lower bound of "champion loss minus challenger loss" above -margin
promotes it, the upper bound below -margin (or `max_batches` without a verdict)
retires it; both go through `<model>_set_champion` (action promote / retire) with
tags naming the batches and the bounds, so the champion pointer's history holds
the evidence. The cursor remembers the challenger and the batches seen, so a tick
without a new batch says so and requests nothing.
"""

from typing import Any

import dagster as dg

from asset_platform.declaration import ModelDeclaration
from asset_platform.declaration.names import CHAMPION, LifecycleNames
from asset_platform.registry.trigger import TRIGGER_TAG
from asset_platform.sensors import DEFAULT_SENSOR_INTERVAL_S
from asset_platform.sensors.cursor import dump_cursor, load_cursor


def build_shadow_sensor(
    declaration: ModelDeclaration, names: LifecycleNames, job: Any, interval_s: int = DEFAULT_SENSOR_INTERVAL_S
) -> dg.SensorDefinition:
    @dg.sensor(
        name=names.shadow_sensor,
        job=job,
        minimum_interval_seconds=interval_s,
        description=f"{declaration.name}: the shadow challenger's labeled batches → promote it when the "
        "anytime-valid interval shows it no worse than the margin, retire it when it shows it worse.",
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def shadow_sensor(context: dg.SensorEvaluationContext):
        from asset_platform.registry.shadow import (
            SHADOW_BOUNDS_TAG,
            SHADOW_EVIDENCE_TAG,
            current_challenger,
            shadow_sequence,
        )

        cursor = load_cursor(context.cursor)
        challenger = current_challenger(context.instance, names)
        if not challenger:
            return dg.SensorResult(cursor=dump_cursor({}), skip_reason="no challenger in shadow")
        sequence, batches = shadow_sequence(context.instance, declaration, names, challenger)
        state = {"challenger": challenger, "batches": batches}
        if not batches:
            return dg.SensorResult(
                cursor=dump_cursor(state),
                skip_reason=f"challenger {challenger[:8]} in shadow: no labeled batch compared yet",
            )
        decision = sequence.decision()
        if decision.action == "continue":
            new = (
                ""
                if cursor.get("challenger") != challenger
                else f" ({len(batches) - len(cursor.get('batches', []))} new)"
            )
            return dg.SensorResult(
                cursor=dump_cursor(state),
                skip_reason=f"keep collecting on challenger {challenger[:8]}{new}: {decision.reason}",
            )
        config = {"action": decision.action, "version": challenger, "reason": f"shadow: {decision.reason}"}
        request = dg.RunRequest(
            run_key=f"{declaration.name}:shadow:{challenger}:{decision.action}",
            run_config={"ops": {names.op(CHAMPION): {"config": config}}},
            tags={
                TRIGGER_TAG: f"sensor:{names.shadow_sensor}",
                SHADOW_EVIDENCE_TAG: ",".join(batches),
                SHADOW_BOUNDS_TAG: f"[{decision.lower:+.4f}, {decision.upper:+.4f}] after {decision.batches} batches",
            },
        )
        context.log.info(f"{decision.action} challenger {challenger[:8]}: {decision.reason}")
        return dg.SensorResult(run_requests=[request], cursor=dump_cursor(state))

    return shadow_sensor
