"""Small frames, models and file listings shared by the storage tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from asset_platform.ml import TrainedModel
from asset_platform.storage.hashing import md5_file


def small_frame(seed: int = 0, rows: int = 200) -> pd.DataFrame:
    """Mixed dtypes with nulls, like the real assets, but small enough to keep the suite fast."""
    rng = np.random.default_rng(seed)
    price = rng.normal(50, 10, size=rows)
    price[rng.random(rows) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "price": price,
            "pages": rng.integers(0, 30, size=rows),
            "device": pd.Categorical(rng.choice(["mobile", "desktop", None], size=rows)),
            "user": rng.choice(["ann", "bo", "cy", None], size=rows),
        }
    )


def small_model(seed: int = 0) -> TrainedModel:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(120, 3))
    labels = (features[:, 0] > 0).astype(int)
    pipeline = Pipeline([("scale", StandardScaler()), ("logreg", LogisticRegression())]).fit(features, labels)
    return TrainedModel("sklearn", pipeline, ["a", "b", "c"], params={"seed": seed})


def files_under(folder: Path) -> dict[str, int]:
    """Relative path -> size of every file below `folder` (DVC's temporary files excluded)."""
    return {
        path.relative_to(folder).as_posix(): path.stat().st_size
        for path in folder.rglob("*")
        if path.is_file() and not path.name.endswith(".tmp")
    }


def assert_objects_intact(object_root: Path) -> int:
    """Every object under a DVC `files/md5` tree hashes to its name; returns how many there are."""
    objects = [p for p in (object_root / "files" / "md5").rglob("*") if p.is_file() and not p.name.endswith(".tmp")]
    for path in objects:
        oid = path.parent.name + path.name
        assert md5_file(path) == oid.removesuffix(".dir"), f"{path} does not hash to its name"
    return len(objects)


def flip_byte(path: Path, offset: int = 100) -> None:
    """Damage a file without changing its size, as bit rot would."""
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.chmod(0o644)
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def small_lgbm_model(seed: int = 0, rounds: int = 20) -> TrainedModel:
    """A LightGBM booster, stored as its text format (`model.txt`), like the example graph's model."""
    import lightgbm

    rng = np.random.default_rng(seed)
    features = rng.normal(size=(400, 3))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 7, "seed": seed, "deterministic": True}
    booster = lightgbm.train(params, lightgbm.Dataset(features, labels), num_boost_round=rounds)
    return TrainedModel("lightgbm", booster, ["a", "b", "c"], params={"rounds": rounds})


def swap_digit(path: Path, after: bytes) -> None:
    """Change one digit that follows `after` to another digit: same size, still parseable, different meaning.

    The damage a size check cannot see and a parser does not reject: a model that
    loads fine and predicts something else, or a pointer naming another version.
    """
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    start = data.index(after) + len(after)
    offset = next(i for i in range(start, len(data)) if chr(data[i]).isdigit() and data[i] != ord("0"))
    data[offset] = ord("1") if data[offset] != ord("1") else ord("7")
    path.write_bytes(bytes(data))
