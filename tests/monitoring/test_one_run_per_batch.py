"""A landed batch costs one run in one process; labels that landed with it join that run.

The batch sensor asks for one run per batch, whose steps (contract check, scoring,
drift) share the run's process. When the batch's labels were already in the labels
folder, that same run computes the realized performance too, and the labels sensor
asks for nothing more; labels landing after the scoring get a performance run of
their own, as before.
"""

from __future__ import annotations

import pytest

from asset_platform.app.demo import start_loop, tick
from asset_platform.lifecycle.build import score_labeled_batch_job
from asset_platform.lifecycle.names import BATCHES, DRIFT, PERFORMANCE, PREDICTIONS
from asset_platform.sensors.labels_arrival import LABELS_MD5_TAG
from asset_platform.synthetic.landing import write_labels
from tests.monitoring.loop import MODEL, copy_home, day_of, land, open_instance


@pytest.fixture(scope="module")
def loop(trained_home, tmp_path_factory: pytest.TempPathFactory):
    """The loop state on a copy of the trained home."""
    home = copy_home(trained_home, tmp_path_factory.mktemp("one-run") / "platform")
    with open_instance(home) as instance:
        yield start_loop(home, MODEL, instance)


def _materialized(result) -> set:
    return {event.asset_key for event in result.get_asset_materialization_events()}


def test_a_batch_whose_labels_landed_with_it_is_scored_judged_and_measured_in_one_run(loop) -> None:
    path, labels = land(loop, 0, None)
    write_labels(loop.landing.labels, day_of(0), labels, MODEL)
    [result] = tick(loop, loop.names.batch_sensor)
    assert result.success
    run = result.dagster_run
    assert run.job_name == score_labeled_batch_job(loop.names)
    assert run.tags[LABELS_MD5_TAG]
    assert _materialized(result) == {loop.names.key(a) for a in (BATCHES, PREDICTIONS, DRIFT, PERFORMANCE)}
    # The labels sensor finds them taken by that run: no second run, and none on later ticks.
    assert tick(loop, loop.names.labels_sensor) == []
    assert tick(loop, loop.names.labels_sensor) == []
    assert tick(loop, loop.names.batch_sensor) == []


def test_labels_landing_after_the_scoring_get_their_own_performance_run(loop) -> None:
    path, labels = land(loop, 1, None)
    [scored] = tick(loop, loop.names.batch_sensor)
    assert scored.success and scored.dagster_run.job_name == loop.names.score_batch_job
    assert LABELS_MD5_TAG not in scored.dagster_run.tags
    assert _materialized(scored) == {loop.names.key(a) for a in (BATCHES, PREDICTIONS, DRIFT)}
    write_labels(loop.landing.labels, day_of(1), labels, MODEL)
    [measured] = tick(loop, loop.names.labels_sensor)
    assert measured.success and measured.dagster_run.job_name == loop.names.performance_job
    assert measured.dagster_run.tags["dagster/partition"] == path.stem
    assert _materialized(measured) == {loop.names.key(PERFORMANCE)}
    assert tick(loop, loop.names.labels_sensor) == []


def test_every_run_of_a_batch_keeps_its_steps_in_one_process(loop) -> None:
    for job in (loop.names.score_batch_job, score_labeled_batch_job(loop.names), loop.names.performance_job):
        assert loop.defs.resolve_job_def(job).executor_def.name == "in_process", job
