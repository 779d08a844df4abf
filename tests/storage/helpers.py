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
