"""The data contract's verdict on a batch read chunk by chunk: what checking the whole batch at once decides.

A batch bigger than a chunk is never held whole (the landing step, lifecycle/monitoring.py). Every check
of a declared contract is a test of one row, except uniqueness (the id column, and columns declared
unique): rows are checked a chunk at a time by `ContractCheck` with uniqueness left out, and uniqueness is
judged across the whole batch from its values, read one column at a time. The chunks' reports then merge
into the report of the whole: counts add (a frame-level failure, such as a missing column, counts once),
the failing rows add, and the failing sample is the batch's first failing rows.

Values are compared as read (`drift/chunks.frames_as_read`), before the contract's coercion; a contract
whose checks are not all per row (a pandera class of the user's own, frame-wide checks) is not streamed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from asset_platform.declaration.contract_check import ContractCheck
    from asset_platform.declaration.model import ModelDeclaration
    from asset_platform.validation.checks import SchemaReport

_SAMPLE_ROWS = 5  # as many failing rows as check_against_schema keeps


class NotStreamable(Exception):
    """The batch or its contract needs the whole batch at once (the message says why)."""


def streamable(declaration: ModelDeclaration, check: ContractCheck) -> str | None:
    """Why the contract cannot be checked chunk by chunk, or None when it can."""
    schema = check.schema
    if declaration.schema_class is not None:
        return f"the contract is the pandera class {declaration.schema_class}, which may check the whole frame"
    if schema.checks or schema.unique or schema.index is not None:
        return "the contract has frame-level checks"
    return None


def unique_columns(declaration: ModelDeclaration, present: Iterable[str]) -> list[str]:
    """The contract's unique columns (the id column, those declared unique) that the batch has."""
    present = set(present)
    columns = [c.name for c in declaration.contract_columns() if c.unique or c.name == declaration.id_column]
    return [name for name in dict.fromkeys(columns) if name in present]


def duplicated_values(column: Callable[[], Iterator[pd.Series]]) -> set[Any]:
    """The values that occur more than once in a column given as chunks (`column()` reads it afresh).

    Each value is hashed (8 bytes a row); only the values whose hash repeats are read again and counted,
    so a hash collision never makes a duplicate. Two or more nulls: `NotStreamable` (pandera words that
    failure its own way, on the whole column).
    """
    import numpy as np
    import pandas as pd

    hashes, nulls = [], 0
    for values in column():
        nulls += int(values.isna().sum())
        hashes.append(pd.util.hash_pandas_object(values.dropna(), index=False).to_numpy())
    if nulls > 1:
        raise NotStreamable(f"column {values.name!r} holds {nulls} missing values where the contract wants it unique")
    ordered = np.sort(np.concatenate(hashes)) if hashes else np.empty(0, dtype=np.uint64)
    repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
    if not len(repeated):
        return set()
    seen: dict[Any, int] = {}
    for values in column():
        present = values.dropna()
        candidates = present[np.isin(pd.util.hash_pandas_object(present, index=False).to_numpy(), repeated)]
        for value in candidates.tolist():
            seen[value] = seen.get(value, 0) + 1
    return {value for value, count in seen.items() if count > 1}


def check_in_chunks(
    check: ContractCheck,
    chunks: Iterable[pd.DataFrame],
    duplicated: dict[str, set[Any]],
    write: Callable[[pd.DataFrame], None],
) -> SchemaReport:
    """The whole batch's report from its `chunks` (in order), `check` built with `unique=False`.

    `duplicated`: per unique column, the values that repeat in the whole batch (`duplicated_values`).
    While every chunk passes, its validated rows go to `write`; once one fails, nothing more is written.
    """
    import numpy as np
    import pandas as pd

    from asset_platform.validation.checks import SchemaReport

    rows = failing_rows = 0
    counts: dict[str, int] = {}
    frame_level: set[str] = set()
    samples: list[pd.DataFrame] = []
    first: pd.DataFrame | None = None
    writing = True
    for chunk in chunks:
        chunk = chunk.set_axis(pd.RangeIndex(rows, rows + len(chunk)))  # the whole batch's row labels
        first = chunk.head(_SAMPLE_ROWS) if first is None else first
        report = check.report(chunk)
        mask = np.zeros(len(chunk), dtype=bool) if report.failing_mask is None else np.array(report.failing_mask)
        for key, count in report.failure_counts.items():
            if key in report.frame_level:  # the same in every chunk: counted once
                counts[key] = max(counts.get(key, 0), count)
                frame_level.add(key)
            else:
                counts[key] = counts.get(key, 0) + count
        for name, values in duplicated.items():
            if values and name in chunk:
                repeats = (chunk[name].isin(values) & chunk[name].notna()).to_numpy()
                if repeats.any():
                    key = f"{name} field_uniqueness"
                    counts[key] = counts.get(key, 0) + int(repeats.sum())
                    mask |= repeats
        failing_rows += int(mask.sum())
        held = sum(len(sample) for sample in samples)
        if mask.any() and held < _SAMPLE_ROWS:
            samples.append(chunk[mask].head(_SAMPLE_ROWS - held))
        if writing and report.passed and not mask.any():
            write(report.validated)
        else:
            writing = False
        rows += len(chunk)
    if not failing_rows and frame_level:  # only frame-level failures: every row is invalid, as read whole
        failing_rows, samples = rows, [first] if first is not None else []
    ordered = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    empty = first.head(0) if first is not None else pd.DataFrame()
    sample = pd.concat(samples) if samples else empty
    return SchemaReport(rows, failing_rows, ordered, sample, None, None, frozenset(frame_level))
