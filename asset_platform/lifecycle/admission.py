"""Which landed files a training reads: each one fit to train on; an unfit one is quarantined, with why.

A history file or labeled production batch is unfit when its rows break the data
contract on their own, or when it repeats ids of a file read before it (history
first, in name order, then the labeled production batches). Read together, one
such file would fail the contract's id uniqueness for the whole history on every
retraining, until someone deleted files by hand; quarantined, it costs its own
rows only, and its note in `quarantine/` says what was wrong and what to do.

A production batch whose labels cannot be joined yet is skipped and named, left
in place: its labels may still arrive. Ids are compared as 64-bit hashes, so a
history of millions of rows costs 8 bytes per id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asset_platform.landing import BatchFileError, landed_md5, read_table

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from asset_platform.landing import ModelLanding


class NothingToTrainOn(BatchFileError):
    """Every history file was unfit and quarantined: the same files would fail again, so no retry."""


@dataclass
class Admission:
    """The rows to train on, the md5 of each file read, and the files set aside (one line each, with why)."""

    frame: pd.DataFrame
    sources: dict[str, str]
    quarantined: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _SeenIds:
    """Ids of the files admitted so far, as hashes, and which file brought each."""

    def __init__(self) -> None:
        self._files: list[tuple[str, np.ndarray]] = []

    def repeated(self, ids: pd.Series) -> str | None:
        """Why `ids` cannot be admitted (some were read already), or None."""
        import numpy as np
        import pandas as pd

        hashes = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        for name, earlier in self._files:
            clash = np.isin(hashes, earlier)
            if clash.any():
                example = ids[clash].iloc[0]
                return (
                    f"{int(clash.sum())} of its {len(ids)} ids were already landed in {name} (e.g. {example!r}): "
                    "the same rows landed twice would break the contract's id uniqueness for the whole history"
                )
        return None

    def add(self, name: str, ids: pd.Series) -> None:
        import pandas as pd

        self._files.append((name, pd.util.hash_pandas_object(ids, index=False).to_numpy()))


def admit_training_rows(landing: ModelLanding) -> Admission:
    """History plus labeled production batches, each checked alone; unfit files are quarantined."""
    import pandas as pd

    frames, sources, quarantined, skipped = [], {}, [], []
    seen = _SeenIds()
    for path in landing.history_files():
        name = f"history/{path.name}"
        frame = landing.with_landing_time(read_table(path, f"model {landing.model} history file {path.name}"), path)
        problem = _contract_problem(landing, frame) or seen.repeated(frame[landing.id_column])
        if problem is not None:
            quarantined.append(f"{name}: {problem}")
            landing.quarantine_file(path, f"history file {path.name} of model {landing.model}: {problem}")
            continue
        seen.add(name, frame[landing.id_column])
        frames.append(frame)
        sources[name] = landed_md5(path)  # a dataset folder's: its parts' digest
    if not frames:
        raise NothingToTrainOn(
            f"model {landing.model}: every history file was unfit and moved to {landing.quarantine} "
            f"({'; '.join(quarantined)}); land corrected history files in {landing.history}"
        )
    for key in landing.labeled_batches():
        try:
            frame = landing.labeled_batch(key)
        except (BatchFileError, KeyError, ValueError, OSError) as error:
            skipped.append(f"{key}: {error}")
            continue
        name = f"production/{landing.batch_path(key).name}"
        problem = _contract_problem(landing, frame) or seen.repeated(frame[landing.id_column])
        if problem is not None:
            quarantined.append(f"{name}: {problem}")
            note = f"labeled production batch {key} of model {landing.model}: {problem}"
            for path in (landing.batch_path(key), landing.labels_path(key)):
                landing.quarantine_file(path, note)
            continue
        seen.add(name, frame[landing.id_column])
        frames.append(frame)
        sources[name] = landed_md5(landing.batch_path(key))
        sources[f"labels/{landing.labels_path(key).name}"] = landed_md5(landing.labels_path(key))
    return Admission(pd.concat(frames, ignore_index=True), sources, quarantined, skipped)


def _contract_problem(landing: ModelLanding, frame: pd.DataFrame) -> str | None:
    if landing.declaration is None:
        return None
    from asset_platform.declaration.contract import contract_schema, normalize_times
    from asset_platform.validation.checks import check_against_schema

    schema = contract_schema(landing.declaration, with_label=True)
    try:
        report = check_against_schema(normalize_times(frame, landing.declaration), schema)
    except (ValueError, TypeError, KeyError) as error:  # a time column that cannot be read as times
        return f"cannot be checked against the data contract: {error}"
    return None if report.passed else f"breaks the data contract: {report.summary()}"
