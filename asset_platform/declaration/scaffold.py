"""`dg scaffold defs asset_platform.project.ModelDeclaration <name>`: a declaration to fill in.

Dagster's default scaffolder writes `attributes: {}`, which fails at load with a
list of missing fields. Ours writes every required field with a placeholder and
a comment saying what it is, and the optional sections commented out with their
defaults, so the file explains itself. `--format python` writes the same as a
`@dg.component_instance` in `component.py`.
"""

from __future__ import annotations

import re
import textwrap

import dagster as dg

_YAML = """\
type: {type_name}

# A governed model, declared once: the platform builds its datasets, features, models,
# evaluation, champion, drift monitoring, sensors and jobs under the key prefix `{name}/`.
# Fill in every field marked REQUIRED; `dg check yaml` validates the file.
attributes:
  name: {name}                       # REQUIRED: lowercase; the asset key prefix and the start of job names
  owners: []                         # e.g. [team:credit-risk] or e-mail addresses
  task: binary_classification        # REQUIRED: binary_classification, multiclass or regression
  metric: auc                        # auc, log_loss, brier; multiclass: macro_auc, accuracy, macro_f1; rmse, mae
  id_column: id                      # REQUIRED: unique per row; labels arrive later by this id
  label_column: label                # REQUIRED: what the model predicts
  time_column: happened_at           # when the row happened: datetime, date, year or month (absent: landing time)
  columns:                           # REQUIRED (or schema_class: my_pkg.schemas:MySchema): the data contract
    - {{name: id, dtype: str}}
    - {{name: happened_at, dtype: datetime}}
    - {{name: amount, dtype: float, min: 0, nullable: true}}
    - {{name: category, dtype: str}}
    - {{name: label, dtype: int}}
  models:                            # REQUIRED: one or more families: {families}
    - {{family: lightgbm, params: {{num_leaves: 15}}}}
  # gate: {{margin: 0.0}}              # a challenger must beat the champion by this on the holdout
  # retraining: {{window_days: 28}}    # what a drift-triggered retrain learns from
  # monitoring: {{max_metric_drop: 0.05}}
  # landing: {{pattern: "*.parquet"}}  # files under $ASSET_PLATFORM_HOME/landing/{name}/history|production|labels
  # segments: [category]             # evaluation per segment
"""

_PYTHON = '''\
"""The `{name}` model, declared in Python (the same fields as a defs.yaml declaration)."""

import dagster as dg

from asset_platform.declaration import ColumnSpec as Col
from {module} import {cls}


@dg.component_instance
def {name}(context: dg.ComponentLoadContext) -> {cls}:
    return {cls}(
        name="{name}",
        task="binary_classification",  # or "multiclass" (classes: the label's categories), "regression"
        metric="auc",
        id_column="id",
        label_column="label",
        time_column="happened_at",
        columns=[
            Col(name="id", dtype="str"),
            Col(name="happened_at", dtype="datetime"),
            Col(name="amount", dtype="float", min=0, nullable=True),
            Col(name="category", dtype="str"),
            Col(name="label", dtype="int"),
        ],
        models=[{{"family": "lightgbm", "params": {{"num_leaves": 15}}}}],
    )
'''


def declaration_name(folder_name: str) -> str:
    """A valid declaration name from the scaffolded folder's name (`my-loans` → `my_loans`)."""
    name = re.sub(r"[^a-z0-9_]", "_", folder_name.lower()).strip("_")
    return name if name and name[0].isalpha() else f"model_{name}"


class ModelDeclarationScaffolder(dg.Scaffolder):
    """Writes a commented declaration with every required field, named after the target folder."""

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        name = declaration_name(request.target_path.name)
        request.target_path.mkdir(parents=True, exist_ok=True)
        if request.scaffold_format == "python":
            module, _, cls = request.type_name.rpartition(".")
            text = _PYTHON.format(name=name, module=module, cls=cls)
            (request.target_path / "component.py").write_text(textwrap.dedent(text))
            return
        from asset_platform.ml.families.registry import FAMILY_NAMES

        text = _YAML.format(type_name=request.type_name, name=name, families=", ".join(FAMILY_NAMES))
        (request.target_path / "defs.yaml").write_text(text)
