"""Issue 23 finding 1: the drift → retrain sensor judges batches in the order they arrived, not by name."""

from __future__ import annotations

import dagster as dg

from asset_platform.app.demo import LoopState, start_loop, tick
from asset_platform.sensors.drift_retrain import arrival_order
from tests.monitoring.loop import MODEL, copy_home, land, open_instance


def _land_as(state: LoopState, index: int, scenario: str | None, name: str) -> str:
    """Land production day `index` under the batch name `name` and let the batch sensor score it."""
    path, _labels = land(state, index, scenario)
    path.rename(path.with_name(name + path.suffix))
    assert tick(state, state.names.batch_sensor), f"batch {name} was not scored"
    return name


def _evaluate_drift_sensor(state: LoopState) -> dg.SensorResult:
    sensor = state.defs.resolve_sensor_def(state.names.drift_retrain_sensor)
    context = dg.build_sensor_context(
        instance=state.instance, cursor=None, resources=state.defs.resources, definitions=state.defs
    )
    return sensor(context)


def test_batches_whose_names_sort_against_time_are_judged_in_arrival_order(trained_home, tmp_path) -> None:
    home = copy_home(trained_home, tmp_path / "platform")
    with open_instance(home) as instance:
        state = start_loop(home, MODEL, instance)
        # Arrival order: one clean batch, then two drifted ones; name order is the reverse.
        landed = [
            _land_as(state, 0, None, "z-first"),
            _land_as(state, 1, "covariate", "m-second"),
            _land_as(state, 2, "covariate", "a-third"),
        ]
        assert instance.get_dynamic_partitions(state.names.partitions) == landed
        result = _evaluate_drift_sensor(state)
    # Judged by name, the newest batch would be z-first (within policy) and nothing would be launched.
    assert result.skip_reason is None, result.skip_reason
    [request] = result.run_requests
    assert request.tags["asset_platform/evidence"] == "m-second,a-third"


def test_trimming_old_records_drops_the_earliest_arrivals(tmp_path) -> None:
    """The cursor keeps the newest batches by arrival: the trimmed ones are the first registered."""
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("batches", ["z-first", "m-second", "a-third"])
        assert arrival_order(instance, "batches", ["a-third", "z-first", "m-second"]) == [
            "z-first",
            "m-second",
            "a-third",
        ]
        # A batch whose partition was deleted counts as oldest, so it is trimmed first.
        assert arrival_order(instance, "batches", ["a-third", "gone", "z-first"]) == ["gone", "z-first", "a-third"]
