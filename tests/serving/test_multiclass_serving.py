"""A multiclass champion served by a real serve-model process: each row answers every class's probability
(the classes named, in column order) and the predicted class; the captured rows hold the class answered
with its probability, and land as a batch the contract check passes and the predictions step scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from asset_platform.app.serve import prepare_dagster_home
from asset_platform.declaration.names import BATCH_CONTRACT_CHECK, PREDICTIONS
from asset_platform.home import PlatformHome
from asset_platform.landing import read_table
from asset_platform.lifecycle import lifecycle_names
from asset_platform.ml.scoring import score_rows
from asset_platform.registry.models import lineup_for
from asset_platform.resources.local import local_resources
from asset_platform.serving.capture import SERVED_CLASS, SERVED_SCORE, SERVED_VERSION
from asset_platform.synthetic.tickets import ID_COLUMN, LABEL_COLUMN, generate_tickets
from asset_platform.testing import LoopState, tick
from definitions import build_definitions
from tests.conftest import subprocess_env
from tests.ml.tickets import START, write_ticket_history
from tests.serving.client import post, v2_inputs
from tests.serving.conftest import Server, free_port, serve_model_command
from tests.serving.tickets_project import served_tickets

MODEL = "tickets"
REQUESTS = [  # (request id, rows): one row, then several
    ("one", generate_tickets(1, START + dt.timedelta(days=5), seed=41).drop(columns=[LABEL_COLUMN])),
    ("five", generate_tickets(5, START + dt.timedelta(days=5), seed=42).drop(columns=[LABEL_COLUMN])),
]


@dataclass
class Served:
    home: PlatformHome
    defs: dg.Definitions
    answers: dict[str, dict]  # request id -> response body
    batch: pd.DataFrame  # the batch the stopped server landed
    batch_key: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The router trained once, served, sent `REQUESTS`, stopped: its answers and the batch it landed."""
    root = tmp_path_factory.mktemp("tickets-serving")
    home = PlatformHome(root / "platform").ensure()
    declaration = served_tickets()
    defs = build_definitions([declaration], local_resources(home))
    landing = defs.resources["landing"].for_model(declaration).ensure()
    write_ticket_history(landing.history, START, 4, 600)
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(home))) as instance:
        training = defs.resolve_job_def(lifecycle_names(declaration).training_job)
        assert training.execute_in_process(instance=instance).success
    options = ["--port", str(port := free_port()), "--metrics-port", str(free_port())]
    options += ["--batch-rows", "1000000", "--batch-minutes", "600"]
    env = subprocess_env(ASSET_PLATFORM_HOME=str(home.root), DAGSTER_HOME=str(home.dagster_home))
    command = serve_model_command(*options, module="tests.serving.tickets_project", model=MODEL)
    server = Server(f"http://127.0.0.1:{port}", "", command, env, root / "serve-model.log", model=MODEL)
    answers = {}
    try:
        server.start()
        for request, rows in REQUESTS:
            status, body = post(server.url(), {"id": request, "inputs": v2_inputs(rows)})
            assert status == 200, body
            answers[request] = body
    finally:
        if server.process is not None:
            server.stop()  # a stop seals what was captured into a batch
    [folder] = landing.production.glob(f"{MODEL}-served-*.parquet")
    yield Served(home, defs, answers, read_table(folder, "served batch"), folder.stem)


def test_each_row_answers_every_classs_probability_and_the_predicted_class(served: Served) -> None:
    declaration = served_tickets()
    lineup = lineup_for(served.defs.resources["registry"], lifecycle_names(declaration))
    champion = lineup.champion()
    model = lineup.load_champion(champion)
    classes = declaration.label_classes
    assert model.classes == classes
    for request, rows in REQUESTS:
        body = served.answers[request]
        assert body["model_version"] == champion.version
        scores, predicted = body["outputs"]
        assert scores["name"] == "scores" and scores["shape"] == [len(rows), len(classes)]
        assert scores["parameters"]["classes"] == classes
        probabilities = np.array(scores["data"]).reshape(len(rows), len(classes))
        np.testing.assert_allclose(probabilities, score_rows(model, rows), rtol=0, atol=1e-9)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
        assert predicted["name"] == "predicted_class" and predicted["datatype"] == "BYTES"
        assert predicted["data"] == [classes[index] for index in probabilities.argmax(axis=1)]


def test_the_captured_rows_hold_the_class_answered_and_land_as_a_batch_the_loop_scores(served: Served) -> None:
    batch = served.batch.set_index(ID_COLUMN)
    for request, rows in REQUESTS:
        scores, predicted = served.answers[request]["outputs"]
        probabilities = np.array(scores["data"]).reshape(len(rows), -1)
        captured = batch.loc[rows[ID_COLUMN]]
        assert captured[SERVED_CLASS].tolist() == predicted["data"]
        np.testing.assert_allclose(captured[SERVED_SCORE], probabilities.max(axis=1), rtol=0, atol=1e-12)
        assert (captured[SERVED_VERSION] == served.answers[request]["model_version"]).all()
    declaration = served_tickets()
    names = lifecycle_names(declaration)
    landing = served.defs.resources["landing"].for_model(declaration)
    with dg.DagsterInstance.from_config(str(prepare_dagster_home(served.home))) as instance:
        [result] = tick(LoopState(instance, served.defs, names, landing), names.batch_sensor)
    assert result.success and result.dagster_run.tags.get("dagster/partition") == served.batch_key
    [contract] = [e for e in result.get_asset_check_evaluations() if e.check_name == BATCH_CONTRACT_CHECK]
    assert contract.passed
    [predictions] = [
        event.materialization
        for event in result.get_asset_materialization_events()
        if event.asset_key == names.key(PREDICTIONS)
    ]
    assert predictions.metadata["serving/rows_served"].value == len(batch)
