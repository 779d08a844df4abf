"""A multiclass model's versions compared: `asset-platform models compare` counts each version's confusion
matrix on the same (newest) holdout, and the model page draws each compared version's evaluation heatmap."""

from __future__ import annotations

import base64
import json

import pytest

from asset_platform.app.cli import main
from asset_platform.declaration.names import EVALUATION
from asset_platform.reports.multiclass import CONFUSION_VALUES
from asset_platform.synthetic.tickets import TEAMS, ticket_columns
from tests import REPO_ROOT
from tests.ml.router import router_declaration

PROJECT = ["-m", "tests.ml.tickets_project", "-d", str(REPO_ROOT)]


@pytest.fixture
def cli(trained_router, monkeypatch, capsys):
    for name, value in trained_router.env().items():
        monkeypatch.setenv(name, value)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main([*PROJECT, *argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def _newest_evaluation(router) -> dict:
    record = router.instance.fetch_materializations(router.names.key(EVALUATION), limit=1).records[0]
    return {name: entry.value for name, entry in record.asset_materialization.metadata.items()}


def test_models_compare_counts_both_versions_on_the_same_holdout(trained_router, cli) -> None:
    old, new = trained_router.versions
    code, out, err = cli("models", "compare", old[:10], new[:10], "--json")
    assert code == 0, err
    confusion = json.loads(out)["confusion"]
    rows = confusion["holdout"]["rows"]
    for side in ("a", "b"):
        assert confusion[side]["classes"] == TEAMS and sum(map(sum, confusion[side]["counts"])) == rows
    # The newest holdout is the one the newest evaluation scored: the new version's counts are the evaluation's.
    evaluation = _newest_evaluation(trained_router)
    assert evaluation["holdout_rows"] == rows
    assert confusion["b"]["counts"] == evaluation[CONFUSION_VALUES]["lightgbm_model"]["counts"]
    # Billing and account tickets traded places in the holdout: the old version routes them to each other.
    billing, account = TEAMS.index("billing"), TEAMS.index("account")
    swapped = {side: confusion[side]["counts"][billing][account] for side in ("a", "b")}
    correct = {side: confusion[side]["counts"][billing][billing] for side in ("a", "b")}
    assert swapped["a"] > correct["a"] and correct["b"] > swapped["b"], (swapped, correct)

    code, out, err = cli("models", "compare", old[:10], new[:10])
    assert code == 0, err
    text = out.split("confusion on the newest holdout", 1)[1]
    assert f"({rows} rows of dataset" in text and "rows: actual class, columns: predicted class" in text
    assert text.count("actual \\ predicted") == 2
    first = text.splitlines()[2:7]  # the old version's header and one row per team
    assert [line.split()[0] for line in first[1:]] == TEAMS
    assert [int(cell) for cell in first[1 + billing].split()[1:]] == [
        *confusion["a"]["counts"][billing],
        sum(confusion["a"]["counts"][billing]),
    ]


def test_a_version_trained_on_other_classes_is_not_counted_naming_the_categories(trained_router) -> None:
    from asset_platform.registry.holdout import confusion_on, newest_holdout
    from asset_platform.registry.models import lineup_for

    columns = ticket_columns()
    columns[-1] = {**columns[-1], "categories": [*TEAMS, "legal"]}
    declaration = router_declaration(columns=columns)
    lineup = lineup_for(trained_router.resources["registry"], trained_router.names)
    holdout = newest_holdout(lineup, trained_router.names)
    with pytest.raises(ValueError, match=r"columns\.team\.categories declares .*'legal'"):
        confusion_on(declaration, lineup, holdout, lineup.find(trained_router.versions[0]))


def test_the_model_page_draws_each_compared_versions_confusion_matrix(trained_router) -> None:
    from asset_platform.app.pages.model_page import model_page_parts

    old, new = trained_router.versions
    query = {"versions": [f"{old[:8]},{new[:8]}"]}
    _title, body, _figures = model_page_parts(
        trained_router.instance, trained_router.declaration, trained_router.names, query
    )
    assert "<h3>Confusion matrices</h3>" in body
    for version in (old, new):
        figure = body.split(f'<figure class="confusion" data-version="{version}">', 1)[1].split("</figure>", 1)[0]
        image = figure.split('src="data:image/png;base64,', 1)[1].split('"', 1)[0]
        assert base64.b64decode(image).startswith(b"\x89PNG")
        assert f"{version[:8]} lightgbm_model: confusion matrix" in figure
    # The diff table lines each cell of the matrices up; the swapped classes' cells differ between versions.
    assert 'class="differs" data-name="confusion/billing → account"' in body
    assert "confusion/technical → technical" in body
    assert "predates recorded curve values" not in body
