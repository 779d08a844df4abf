"""How each kind of asset value becomes bytes, and back.

| value                    | format    | stored as                                       |
| ------------------------ | --------- | ----------------------------------------------- |
| pandas DataFrame         | `parquet` | one Parquet file (pyarrow)                      |
| `WrittenParquet`         | `parquet` | the Parquet file a step streamed, as it is      |
| `TrainedModel`           | `model`   | a folder: the library's own file + model.json   |
| dict / list of JSON data | `json`    | one JSON file, keys sorted so equal data hashes equal |
| anything else            | `pickle`  | only if the asset declares it (`FORMAT_METADATA_KEY`) |

The reader is chosen by what the caller expects (the asset's declaration), never
by the catalog alone: `versions.jsonl` is a plain file in a shared workspace, and a
forged `pickle` entry must not make a load run code.
"""

from __future__ import annotations

import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from asset_platform.ml import TrainedModel
from asset_platform.storage.hashing import HashingWriter

if TYPE_CHECKING:
    import pandas as pd

# Asset definition metadata an asset sets to opt in to a format, e.g. {"asset_platform/format": "pickle"}.
FORMAT_METADATA_KEY = "asset_platform/format"
FORMATS = ("parquet", "model", "json", "pickle")
# What a load accepts when the caller declares nothing: every format whose reader runs no stored code.
SAFE_FORMATS = ("parquet", "model", "json")
_FILE_SUFFIX = {"parquet": ".parquet", "json": ".json", "pickle": ".pkl", "model": ""}


class UnsupportedValueError(TypeError):
    """A value the storage does not know how to write safely."""


@dataclass(frozen=True)
class StagedValue:
    """A value written to a staging path, not yet visible in the cache."""

    path: Path
    format: str
    is_dir: bool
    # Known for single files hashed while written; folders are hashed per file later.
    md5: str | None
    size: int


@dataclass(frozen=True)
class WrittenParquet:
    """A Parquet file a step wrote itself, chunk by chunk, to keep a big frame out of memory.

    Stored as it is (read back like any stored frame), and removed once stored. Write it under the
    store's staging folder, whose leftovers are cleaned if the run stops before the file is stored.
    """

    path: Path


def suffix_for(fmt: str) -> str:
    return _FILE_SUFFIX[fmt]


def is_frame(value: Any) -> bool:
    """True for a pandas DataFrame, without importing pandas: a process that never imported
    pandas holds no frame, and the code location loads faster without it."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def choose_format(value: Any, declared: str | None, what: str) -> str:
    """The format for `value`; `what` names the asset in errors."""
    if declared is not None:
        if declared not in FORMATS:
            raise UnsupportedValueError(f"{what}: unknown storage format {declared!r}; use one of {FORMATS}")
        return declared
    if is_frame(value) or isinstance(value, WrittenParquet):
        return "parquet"
    if isinstance(value, TrainedModel):
        return "model"
    if isinstance(value, (dict, list)):
        return "json"
    raise UnsupportedValueError(
        f"{what}: cannot store a {type(value).__name__}. Return a pandas DataFrame, a TrainedModel "
        f"or JSON data, or declare metadata {{{FORMAT_METADATA_KEY!r}: 'pickle'}} on the asset to "
        "opt in to pickling (never used for models)."
    )


def write_staged(value: Any, fmt: str, path: Path) -> StagedValue:
    """Write `value` at `path` (a file, or a folder for models)."""
    if fmt == "model":
        if not isinstance(value, TrainedModel):
            raise UnsupportedValueError(f"format 'model' needs a TrainedModel, got {type(value).__name__}")
        path.mkdir()
        value.save(path)
        size = sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
        return StagedValue(path, fmt, True, None, size)
    with HashingWriter(path) as sink:
        if fmt == "parquet":
            _write_parquet(value, sink)
        elif fmt == "json":
            sink.write(json.dumps(value, sort_keys=True, indent=1, default=str).encode())
        else:
            pickle.dump(value, sink, protocol=pickle.HIGHEST_PROTOCOL)
    return StagedValue(path, fmt, False, sink.md5, sink.size)


def _write_parquet(frame: pd.DataFrame | WrittenParquet, sink: HashingWriter) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(frame, WrittenParquet):
        import shutil

        with open(frame.path, "rb") as source:
            shutil.copyfileobj(source, sink, 1 << 20)
        frame.path.unlink()
        return
    if not is_frame(frame):
        raise UnsupportedValueError(f"format 'parquet' needs a DataFrame, got {type(frame).__name__}")
    pq.write_table(pa.Table.from_pandas(frame), sink)


def expected_formats(expected: str | None, what: str) -> tuple[str, ...]:
    """The formats a load of `what` accepts: the declared one, else `SAFE_FORMATS` (never pickle)."""
    if expected is None:
        return SAFE_FORMATS
    if expected not in FORMATS:
        raise UnsupportedValueError(f"{what}: unknown storage format {expected!r}; use one of {FORMATS}")
    return (expected,)


def read_stored(path: Path, fmt: str, allow_pickle: bool = False) -> Any:
    """Read a stored object back in format `fmt`.

    Pickles load only with `allow_pickle`, which callers set only when the asset
    itself declared pickle, and only from objects whose md5 they checked.
    """
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pandas()
    if fmt == "model":
        return TrainedModel.load(path)
    if fmt == "json":
        return json.loads(path.read_text())
    if fmt == "pickle":
        if not allow_pickle:
            raise UnsupportedValueError(
                f"refusing to unpickle {path}: pickles load only for assets that declare "
                f"{{{FORMAT_METADATA_KEY!r}: 'pickle'}}"
            )
        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - only for assets that opted in explicitly
    raise UnsupportedValueError(f"unknown stored format {fmt!r}")
