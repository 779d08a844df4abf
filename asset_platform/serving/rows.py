"""A V2 inference request as rows of the model's data contract, or a 4xx that names the field.

One input per contract column (MLServer's pandas convention: `name` = column, `shape` = [rows]
or [rows, 1]), the label excepted: a request carries none, labels arrive later joined by id.
The rows then meet the very contract a production batch meets (`contract_schema`), so a request is
refused for exactly what would quarantine a batch. A request of a few rows is judged on its arrays by the
contract's compiled plan (compiled_rows.py); a larger one as a frame by `ContractCheck`, which reaches
pandera's verdict by vector operations; each leaves to the next what it cannot decide exactly.
Messages name columns and checks, never a value: a column may be declared sensitive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlserver.errors import MLServerError

from asset_platform.serving.compiled_rows import FAST_ROWS, CompiledContract, RequestRows, frame_array

if TYPE_CHECKING:
    import pandas as pd
    from mlserver.types import InferenceRequest, RequestInput

    from asset_platform.declaration import ModelDeclaration
    from asset_platform.declaration.contract_check import ContractCheck
    from asset_platform.declaration.model import ColumnSpec

# The outputs: per row, the positive class's probability or the predicted value; for a multiclass model a
# row of each class's probability (shape [rows, classes], the classes named in the output's parameters) and
# the predicted class.
SCORES = "scores"
PREDICTED_CLASS = "predicted_class"

_FLOATS = ("FP64", "FP32", "FP16")
_INTS = ("INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT16", "UINT8")
# The V2 datatypes each contract dtype accepts; times travel as ISO strings (or a year as an int).
DATATYPES: dict[str, tuple[str, ...]] = {
    "float": _FLOATS + _INTS,
    "int": _INTS,
    "year": _INTS,
    "bool": ("BOOL",),
    "str": ("BYTES",),
    "datetime": ("BYTES",),
    "date": ("BYTES",),
    "month": ("BYTES",),
}
_INT64_LIMIT = 2**63


class BadRequest(MLServerError):
    """The request breaks the protocol or the contract: 400, the message names the input."""

    def __init__(self, message: str):
        super().__init__(message, status_code=400)


class PayloadTooLarge(MLServerError):
    """More rows than one request may carry: 413."""

    def __init__(self, message: str):
        super().__init__(message, status_code=413)


@dataclass
class RequestContract:
    """What a request to one declared model must hold, and the contract its rows must meet."""

    declaration: ModelDeclaration
    max_rows: int
    compiled: bool = True  # False: every request takes the frame path (the compiled contract's reference)
    columns: list[ColumnSpec] = field(init=False)
    names: list[str] = field(init=False)
    _checks: dict[Any, ContractCheck] = field(init=False, default_factory=dict)
    _compiled_checks: dict[Any, CompiledContract] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        label = self.declaration.label_column
        self.columns = [column for column in self.declaration.contract_columns() if column.name != label]
        self.names = [column.name for column in self.columns]

    def rows(self, request: InferenceRequest, learned_until: Any = None) -> pd.DataFrame:
        """The request's rows, validated and coerced as the contract says; `learned_until` bounds times in the
        past as for an arriving batch (`lifecycle.past_bound`)."""
        return self.judge(request, learned_until).frame()

    def judge(self, request: InferenceRequest, learned_until: Any = None) -> RequestRows:
        """`rows` as the runtime takes them: a small request judged by the compiled contract (compiled_rows.py),
        without building a frame; others, and any the compiled contract cannot decide, by the frame path."""
        self._check_outputs(request)
        sent, count = self.sent(request)
        if self.compiled and count <= FAST_ROWS:
            judged = self.compiled_check(learned_until).judge(sent, count)
            if judged is not None:
                return judged
        return RequestRows.of_frame(self._validated(self._frame(sent), learned_until))

    def sent(self, request: InferenceRequest) -> tuple[dict[str, tuple[str, list]], int]:
        """Per contract column the kind of its values and the values as sent, each checked to fit the column's
        dtype (a 400 naming the input and row where not); the number of rows."""
        inputs = self._inputs(request)
        count = self._row_count(inputs)
        return {spec.name: _column(spec, inputs[spec.name], count) for spec in self.columns}, count

    def frame(self, request: InferenceRequest) -> pd.DataFrame:
        """The request's rows as the frame path builds them, before the contract judges them."""
        return self._frame(self.sent(request)[0])

    def _frame(self, sent: dict[str, tuple[str, list]]) -> pd.DataFrame:
        import pandas as pd

        from asset_platform.declaration.contract import normalize_times
        from asset_platform.declaration.model import LANDED_AT

        frame = pd.DataFrame({name: frame_array(kind, values) for name, (kind, values) in sent.items()})
        if self.declaration.time_column is None:
            # A landed file's rows are timed by its arrival; a request's by its own.
            frame[LANDED_AT] = pd.Timestamp.now(tz="UTC")
        return normalize_times(frame, self.declaration)

    def _validated(self, frame: pd.DataFrame, learned_until: Any) -> pd.DataFrame:
        report = self._check(learned_until).report(frame)
        if not report.passed:
            raise BadRequest(f"rows break the data contract of model {self.declaration.name!r}: {report.summary()}")
        return report.validated

    def _check(self, learned_until: Any) -> ContractCheck:
        from asset_platform.declaration.contract_check import ContractCheck

        if learned_until not in self._checks:  # one per champion: its data bounds the past
            check = ContractCheck(self.declaration, False, learned_until=learned_until)
            self._checks = {learned_until: check}
            self._compiled_checks = {learned_until: CompiledContract(self.declaration, check, self.names)}
        return self._checks[learned_until]

    def compiled_check(self, learned_until: Any = None) -> CompiledContract:
        """The contract compiled for small requests, for the champion whose data ends at `learned_until`."""
        self._check(learned_until)
        return self._compiled_checks[learned_until]

    def _check_outputs(self, request: InferenceRequest) -> None:
        for output in request.outputs or []:
            if output.name != SCORES:
                raise BadRequest(f"unknown output {output.name!r}: model {self.declaration.name!r} answers {SCORES!r}")

    def _inputs(self, request: InferenceRequest) -> dict[str, RequestInput]:
        model, label = self.declaration.name, self.declaration.label_column
        inputs: dict[str, RequestInput] = {}
        for tensor in request.inputs:
            if tensor.name in inputs:
                raise BadRequest(f"input {tensor.name!r} is sent twice")
            inputs[tensor.name] = tensor
        if label in inputs:
            raise BadRequest(
                f"input {label!r} is the label of model {model!r}: a request carries none "
                f"(labels arrive later, joined by {self.declaration.id_column!r})"
            )
        expected = [column.name for column in self.columns]
        unknown = [name for name in inputs if name not in expected]
        if unknown:
            raise BadRequest(
                f"unknown input(s) {', '.join(map(repr, unknown))}: not in the data contract of model {model!r}, "
                f"which declares {', '.join(expected)}"
            )
        missing = [name for name in expected if name not in inputs]
        if missing:
            raise BadRequest(
                f"missing input(s) {', '.join(map(repr, missing))}: the data contract of model {model!r} "
                "declares them (send null for a missing value where the column is nullable)"
            )
        return inputs

    def _row_count(self, inputs: dict[str, RequestInput]) -> int:
        counts = {name: (tensor.shape[0] if tensor.shape else -1) for name, tensor in inputs.items()}
        first = next(iter(counts))
        for name, count in counts.items():
            tensor = inputs[name]
            if count < 0 or list(tensor.shape) not in ([count], [count, 1]):
                raise BadRequest(f"input {name!r}: shape {list(tensor.shape)} is not [rows] or [rows, 1]")
            if count != counts[first]:
                raise BadRequest(
                    f"input {name!r} holds {count} rows and input {first!r} {counts[first]}: "
                    "every input holds one value per row"
                )
        count = counts[first]
        if count == 0:
            raise BadRequest("the request holds no rows: every input's shape is [0]")
        if count > self.max_rows:
            raise PayloadTooLarge(
                f"{count} rows in one request; model {self.declaration.name!r} takes at most {self.max_rows} "
                "(serve-model --max-rows)"
            )
        return count


def _column(spec: ColumnSpec, tensor: RequestInput, count: int) -> tuple[str, list]:
    """One input's values, each checked to fit the contract's dtype: (their kind, the values as sent)."""
    accepted = DATATYPES[spec.dtype]
    datatype = str(getattr(tensor.datatype, "value", tensor.datatype))  # MLServer keeps enum values as str
    if datatype not in accepted:
        raise BadRequest(
            f"input {spec.name!r} is {spec.dtype} in the data contract: datatype {' or '.join(accepted[:3])} "
            f"expected, not {datatype}"
        )
    values = _flat(spec, tensor.data.root, count)
    kind = _kind(spec, datatype)
    fits = _FITS[kind]
    for row, value in enumerate(values):
        if value is not None and not fits(value):
            raise BadRequest(
                f"input {spec.name!r}, row {row}: a JSON {_json_type(value)} where the data contract wants "
                f"{_WANTED[kind]} (null for a missing value)"
            )
    return kind, values


def _flat(spec: ColumnSpec, data: Any, count: int) -> list:
    if not isinstance(data, list):
        raise BadRequest(f"input {spec.name!r}: data must be a list of {count} values")
    if data and all(isinstance(item, list) and len(item) == 1 for item in data):
        data = [item[0] for item in data]  # shape [rows, 1] sent nested
    if len(data) != count:
        raise BadRequest(f"input {spec.name!r}: shape says {count} rows, data holds {len(data)} values")
    return data


def _kind(spec: ColumnSpec, datatype: str) -> str:
    if datatype in _FLOATS or (spec.dtype == "float" and datatype in _INTS):
        return "number"
    if datatype in _INTS:
        return "integer"
    return "bool" if datatype == "BOOL" else "string"


def _fits_number(value: Any) -> bool:
    return type(value) is float or (isinstance(value, int | float) and not isinstance(value, bool))


def _fits_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    whole = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    return whole and abs(value) < _INT64_LIMIT


def _fits_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _fits_string(value: Any) -> bool:
    return isinstance(value, str)


_FITS = {"number": _fits_number, "integer": _fits_integer, "bool": _fits_bool, "string": _fits_string}
_WANTED = {"number": "a number", "integer": "a whole number", "bool": "true or false", "string": "a string"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number" if isinstance(value, int) or math.isfinite(value) else "non-finite number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), type(value).__name__)
