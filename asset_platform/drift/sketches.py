"""The reference profile of a reference too large to sort: cut points from quantile sketches, counts exact.

Above `sketch_rows` rows, `build_profile` (profile.py) reads the reference in
chunks, twice, holding one chunk and a few small sketches at a time:

1. each chunk updates one KLL sketch per numeric feature (Apache DataSketches,
   `kll_doubles_sketch`, mergeable: a sketch of the parts is a sketch of the
   whole), the exact missing count, min, max and sum, and the exact category
   counts (these are complete after this pass);
2. the cut points are read off the sketches: the bin edges at the same
   quantiles `np.quantile` gives a sorted reference, the sample at the same
   stratified ranks drawn with the same seed (profile.py); each within the
   sketch's rank error of the exact order statistic;
3. one exact counting pass places every value among those cut points (the same
   code that summarizes a batch, binning.Cuts), so the bin counts are exact
   for the cut points the profile carries, and so is what is derived from them:

   * `ks_bound`: the largest share of the feature's values lying strictly
     between two adjacent cut points (sample values, edges, min, max). At a cut
     point the reference ECDF is known exactly; between two it can move by at
     most that share, which is therefore how far a KS statistic read at the cut
     points can be from the full-reference one on the reference's side;
   * `sample_ecdf_error`: the largest gap between the sample's ECDF and the full
     reference's, measured at and just below every cut point (between cut
     points the sample's ECDF is flat and the reference's monotone, so that is
     its supremum). measure.py subtracts it, instead of the exact sample's
     1/sample_size + 1/n_rows, for a conservative full-reference KS p-value;
   * `sample_error`: an upper bound of the Wasserstein distance between sample
     and reference (each gap's width times the larger of the ECDF gaps at its
     two ends), where the exact profile measures it on the sorted values.

The batch side stays exact too: a batch is counted into the profile's cells
(summary.py), never sketched, so no KS statistic is ever sketch against sketch
(a sketch's KS threshold counts retained items, not rows: at k = 200 it missed
a 0.2 standard deviation shift).

The mean is the correctly rounded exact sum over n; the standard deviation is
the root of the sum of squared deviations from that mean (a second-pass sum),
not numpy's pairwise sum over the sorted values, so it may differ from the exact
profile's in its last bits. KLL compaction draws random bits that the Python
binding cannot seed: two builds of one reference may place their cut points a
little differently (each within the rank error); their counts are exact either way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from asset_platform.drift.binning import Cuts
from asset_platform.drift.columns import DriftInputError, category_counts, numeric_values
from asset_platform.drift.profile import CategoricalProfile, NumericProfile, ReferenceProfile, ranked_categories

# The sketch's size parameter: its single-rank error is 0.07 % (99 % confidence, DataSketches'
# `get_normalized_rank_error(4096, False)`), under the 1/1024 of a stratum of the default sample, for about
# 12,000 retained values (100 KB) per feature whatever the rows.
SKETCH_K = 4096
SKETCH_METHOD = "kll_doubles_sketch"
# Rows counted at a time when the reference is a frame already in memory.
FRAME_CHUNK_ROWS = 131_072


def check_sketch_rows(sketch_rows: object) -> int:
    """`sketch_rows` as a positive whole number of rows, or a ValueError that names it."""
    if isinstance(sketch_rows, bool) or not isinstance(sketch_rows, int | np.integer):
        raise ValueError(
            f"sketch_rows must be a whole number of rows (a reference above it is profiled from sketches), "
            f"got {sketch_rows!r} ({type(sketch_rows).__name__})"
        )
    if sketch_rows <= 0:
        raise ValueError(f"sketch_rows must be a positive number of rows, got {sketch_rows}")
    return int(sketch_rows)


def rank_error(k: int = SKETCH_K) -> float:
    """The KLL sketch's normalized single-rank error at `k` (99 % confidence)."""
    from datasketches import kll_doubles_sketch

    return float(kll_doubles_sketch.get_normalized_rank_error(k, False))


# A re-readable source of a reference's consecutive chunks, of the columns asked for.
Chunks = Callable[[list[str]], Iterable[pd.DataFrame]]


def frame_chunks(frame: pd.DataFrame, chunk_rows: int = FRAME_CHUNK_ROWS) -> Chunks:
    """A frame in memory as a re-readable source of consecutive chunks (one chunk's columns copied at a time)."""

    def chunks(columns: list[str]) -> Iterator[pd.DataFrame]:
        for start in range(0, max(len(frame), 1), chunk_rows):
            yield frame.iloc[start : start + chunk_rows][columns]

    return chunks


def sketched_profile(
    chunks: Chunks,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    sample_size: int,
    bins: int,
    seed: int,
    max_categories: int,
    sketch_rows: int,
) -> ReferenceProfile:
    """The profile of the reference that `chunks` yields (read twice: every feature for the sketch pass, the
    numeric ones for the counting pass).

    Arguments as `build_profile`'s, already checked; `sketch_rows` is recorded with the method.
    """
    sketches = {name: _NumericSketch(name) for name in numeric}
    categories = {name: _CategoryTally(name) for name in categorical}
    n_rows = 0
    for chunk in chunks([*numeric, *categorical]):
        n_rows += len(chunk)
        for part in (*sketches.values(), *categories.values()):
            part.observe(chunk)
    rng = np.random.default_rng(seed)
    # Placed in the features' order with one generator, as the exact profile draws its samples.
    for sketch in sketches.values():
        sketch.place(n_rows, bins, sample_size, rng)
    for chunk in chunks(list(numeric)):
        for sketch in sketches.values():
            sketch.count(chunk)
    return ReferenceProfile(
        n_rows=n_rows,
        numeric={name: sketch.profile(n_rows) for name, sketch in sketches.items()},
        categorical={name: tally.profile(n_rows, max_categories) for name, tally in categories.items()},
        bins=bins,
        sample_size=sample_size,
        max_categories=max_categories,
        seed=seed,
        sketch={"method": SKETCH_METHOD, "k": SKETCH_K, "rank_error": rank_error(), "above_rows": sketch_rows},
    )


def _column(chunk: pd.DataFrame, name: str) -> None:
    if name not in chunk.columns:
        raise DriftInputError(f"reference chunk lacks feature column {name!r}; it has {list(chunk.columns)}")


class _NumericSketch:
    """One numeric feature through both passes: sketch and exact tallies, then exact cell counts."""

    def __init__(self, name: str) -> None:
        from datasketches import kll_doubles_sketch

        from asset_platform.exact_sums import ExactSums

        self.name = name
        self.sketch = kll_doubles_sketch(SKETCH_K)
        self.missing = 0
        self.total = ExactSums(1)
        self.cuts: Cuts | None = None
        self.counts = np.zeros(0, dtype=np.int64)
        self.squares: list[float] = []

    def observe(self, chunk: pd.DataFrame) -> None:
        _column(chunk, self.name)
        values, missing = numeric_values(chunk, self.name)
        self.missing += missing
        if values.size:
            self.sketch.update(np.ascontiguousarray(values, dtype=np.float64))
            self.total.add(None, values)

    def place(self, n_rows: int, bins: int, sample_size: int, rng: np.random.Generator) -> None:
        """The cut points from the sketch: decile-style edges and the stratified sample."""
        from asset_platform.exact_sums import exact_float

        n = self.sketch.n
        if n == 0:
            raise DriftInputError(
                f"column {self.name!r} has no non-missing values in the reference ({n_rows} rows); "
                "drop it from the numeric features or fix the training data"
            )
        self.n = n
        self.mean = exact_float(self.total.totals()[0]) / n
        self.minimum, self.maximum = self.sketch.get_min_value(), self.sketch.get_max_value()
        self.edges = np.unique(self._quantiles(np.arange(1, bins) / bins))
        if n <= sample_size:
            ranks = np.arange(n)
        else:  # the ranks profile._stratified_sample picks, drawn alike
            starts = np.arange(sample_size + 1) * n // sample_size
            ranks = starts[:-1] + (rng.random(sample_size) * np.diff(starts)).astype(np.int64)
        self.sample = np.asarray(self._order_statistics(ranks), dtype=np.float64)
        self.cuts = Cuts(np.concatenate((self.sample, self.edges, (self.minimum, self.maximum))))
        self.counts = np.zeros(2 * len(self.cuts) + 1, dtype=np.int64)

    def _order_statistics(self, ranks: np.ndarray) -> list[float]:
        """The sketch's estimate of the sorted values at 0-based `ranks`: the smallest retained value whose
        inclusive rank reaches (rank + 1) / n."""
        return self.sketch.get_quantiles(((ranks + 1) / self.n).tolist(), inclusive=True)

    def _quantiles(self, levels: np.ndarray) -> np.ndarray:
        """`np.quantile`'s linear interpolation between the estimated order statistics around each level."""
        position = (self.n - 1) * levels
        low = np.floor(position).astype(np.int64)
        below = np.asarray(self._order_statistics(low))
        above = np.asarray(self._order_statistics(np.minimum(low + 1, self.n - 1)))
        return below + (position - low) * (above - below)

    def count(self, chunk: pd.DataFrame) -> None:
        assert self.cuts is not None, "place() comes before count()"
        values, _ = numeric_values(chunk, self.name)
        if values.size:
            self.counts += np.bincount(self.cuts.codes(values), minlength=self.counts.size)
            deviations = values - self.mean
            self.squares.append(float(np.dot(deviations, deviations)))

    def profile(self, n_rows: int) -> NumericProfile:
        assert self.cuts is not None, "place() and count() come before profile()"
        counted = int(self.counts.sum())
        if counted != self.n:  # the source gave other rows the second time
            raise DriftInputError(
                f"column {self.name!r}: the counting pass read {counted} values, the sketch pass {self.n}; "
                "the reference changed while it was profiled"
            )
        cumulative = np.cumsum(self.counts)
        # Values strictly below cut k are those of codes 0 .. 2k; up to and including it, codes 0 .. 2k + 1.
        below, upto = cumulative[0::2][:-1], cumulative[1::2]
        at_edges = self.cuts.index(self.edges)
        counts = np.diff(np.concatenate(([0], below[at_edges], [self.n])))
        std = math.sqrt(math.fsum(self.squares) / self.n)
        error = _wasserstein_bound(self.cuts.values, self.sample, below, upto, self.n)
        if not (np.isfinite(std) and np.isfinite(error)):
            raise DriftInputError(f"column {self.name!r} has values too large to summarise (std {std}); rescale it")
        return NumericProfile(
            name=self.name,
            n_rows=n_rows,
            missing=self.missing,
            mean=float(self.mean),
            std=std,
            minimum=float(self.minimum),
            maximum=float(self.maximum),
            edges=tuple(self.edges.tolist()),
            counts=tuple(int(count) for count in counts),
            sample=tuple(self.sample.tolist()),
            sample_error=error,
            ks_bound=float(self.counts[0::2].max() / self.n),
            sample_ecdf_error=_ecdf_gap(self.cuts.values, self.sample, below, upto, self.n),
        )


def _sample_ecdf(cuts: np.ndarray, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sample's ECDF just below and at each cut point."""
    ordered = np.sort(sample)
    size = ordered.size
    return (
        np.searchsorted(ordered, cuts, side="left") / size,
        np.searchsorted(ordered, cuts, side="right") / size,
    )


def _ecdf_gap(cuts: np.ndarray, sample: np.ndarray, below: np.ndarray, upto: np.ndarray, n: int) -> float:
    """sup |sample ECDF - reference ECDF|: taken at and just below the cut points (the sample lies on them)."""
    sample_below, sample_upto = _sample_ecdf(cuts, sample)
    return float(max(np.abs(sample_below - below / n).max(), np.abs(sample_upto - upto / n).max()))


def _wasserstein_bound(cuts: np.ndarray, sample: np.ndarray, below: np.ndarray, upto: np.ndarray, n: int) -> float:
    """An upper bound of the Wasserstein distance between the sample and the reference.

    Between cut points k and k + 1 the sample's ECDF is flat at its value at cut k and the reference's rises
    from its value at cut k to its value just below cut k + 1; the integral of their gap over that width is at
    most the width times the larger gap at the two ends. Outside [min, max] both ECDFs are 0 or 1.
    """
    _, sample_upto = _sample_ecdf(cuts, sample)
    flat = sample_upto[:-1]
    gap = np.maximum(np.abs(flat - upto[:-1] / n), np.abs(flat - below[1:] / n))
    return float(np.sum(np.diff(cuts) * gap))


class _CategoryTally:
    """Exact category counts of one categorical feature, added chunk by chunk."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.counts: dict[str, int] = {}
        self.missing = 0

    def observe(self, chunk: pd.DataFrame) -> None:
        _column(chunk, self.name)
        counts, missing = category_counts(chunk, self.name)
        self.missing += missing
        for category, count in counts.items():
            self.counts[category] = self.counts.get(category, 0) + count

    def profile(self, n_rows: int, max_categories: int) -> CategoricalProfile:
        return ranked_categories(self.name, n_rows, self.counts, self.missing, max_categories)


def parquet_chunks(path: Path, columns: list[str], categorical: Sequence[str], chunk_rows: int) -> Chunks:
    """A Parquet file or dataset folder as a re-readable source of `chunk_rows`-row frames of `columns` (or
    of those of them each reading asks for).

    Read as the batch engine reads a batch (drift/chunks.stream_frames: Arrow record batches, one row group at
    a time), each chunk given the dtypes `pd.read_parquet(path, columns=columns)` gives the whole column: those
    of the file's pandas metadata (a nullable "Int64" stays one, where a chunk read without that metadata
    would hold floats), and floats for integers with a null anywhere and no such metadata (a chunk without
    nulls would otherwise count a category "1", the others "1.0").
    """
    from asset_platform.drift.chunks import stream_frames

    wanted = _whole_column_dtypes(path, columns, categorical)

    def chunks(read: list[str]) -> Iterator[pd.DataFrame]:
        for chunk in stream_frames(path, chunk_rows, read):
            differ = {name: wanted[name] for name in read if chunk[name].dtype != wanted[name]}
            yield chunk.astype(differ) if differ else chunk

    return chunks


def _whole_column_dtypes(path: Path, columns: list[str], categorical: Sequence[str]) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.dataset as ds

    from asset_platform.drift.summary import open_dataset

    dataset = open_dataset(path)
    dtypes = dict(dataset.schema.empty_table().select(columns).to_pandas().dtypes.items())
    for name in columns:
        if (
            name in categorical
            and pd.api.types.is_integer_dtype(dtypes[name])
            and not isinstance(dtypes[name], pd.api.extensions.ExtensionDtype)
            and pa.types.is_integer(dataset.schema.field(name).type)
            and dataset.count_rows(filter=ds.field(name).is_null()) > 0
        ):
            dtypes[name] = np.dtype(np.float64)
    return dtypes
