"""Drift results as Dagster-friendly metadata: a markdown table, summary floats, small histograms.

Plain strings and floats only, so the asset code wraps them in
`MetadataValue.md` / `MetadataValue.float`; images are data-URI PNGs of a few
tens of KB (see asset_platform/reports/plots.py), since metadata lives in the
event log.
"""

from __future__ import annotations

from asset_platform.drift.measure import DriftResults, FeatureDrift
from asset_platform.drift.policy import BatchAssessment, DriftPolicy, FeatureVerdict, judge_feature
from asset_platform.reports.plots import png_markdown

_COLUMNS = (
    "feature",
    "kind",
    "level",
    "PSI",
    "JS",
    "W/std",
    "KS D (p)",
    "chi2 (p)",
    "category h",
    "missing",
    "unseen",
    "values",
)
_FIGSIZE = (4.2, 2.4)
_MAX_BARS = 21


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _test(statistic: float | None, pvalue: float | None) -> str:
    return "" if statistic is None or pvalue is None else f"{statistic:.3g} ({pvalue:.2g})"


def _shift(feature: FeatureDrift) -> str:
    if feature.category_shift is None:
        return ""
    return f"{feature.category_shift:.3f} ({feature.shifted_category})"


def _row(feature: FeatureDrift, verdict: FeatureVerdict) -> str:
    missing = f"{feature.missing_rate:.1%} ({feature.missing_rate_increase:+.1%})"
    cells = (
        feature.name,
        feature.kind,
        verdict.level if feature.error is None else f"error: {feature.error}",
        _number(feature.psi),
        _number(feature.js_distance),
        _number(feature.wasserstein),
        _test(feature.ks_statistic, feature.ks_pvalue),
        _test(feature.chi2_statistic, feature.chi2_pvalue),
        _shift(feature),
        missing,
        _number(feature.unseen_share),
        str(feature.n_values),
    )
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def drift_table_markdown(results: DriftResults, policy: DriftPolicy | None = None) -> str:
    """One row per feature, most drifted (by PSI) first; `level` is judged under `policy` (default policy if None)."""
    policy = policy or DriftPolicy()
    ordered = sorted(results.features, key=lambda f: -1.0 if f.psi is None else -f.psi)
    lines = ["| " + " | ".join(_COLUMNS) + " |", "|" + "---|" * len(_COLUMNS)]
    lines += [_row(feature, judge_feature(feature, policy)) for feature in ordered]
    return "\n".join(lines)


def drift_summary(
    results: DriftResults, assessment: BatchAssessment, prediction: str = "prediction"
) -> dict[str, float]:
    """Floats for metadata: drift share, max PSI, drifted-feature count, and the prediction's PSI if profiled."""
    measured = [f.psi for f in results.features if f.psi is not None]
    summary = {
        "drift_share": float(assessment.drift_share),
        "max_psi": float(max(measured, default=0.0)),
        "drifted_features": float(len(assessment.drifted_features)),
    }
    score = next((f for f in results.features if f.name == prediction and f.psi is not None), None)
    if score is not None:
        summary["prediction_psi"] = float(score.psi)
    return summary


def drift_histograms_markdown(results: DriftResults, top: int = 3) -> str:
    """Reference-vs-batch histograms of the `top` features with the largest PSI, as markdown images."""
    measured = [f for f in results.features if f.psi is not None and f.batch_shares]
    worst = sorted(measured, key=lambda f: -f.psi)[:top]
    return "\n\n".join(feature_histogram_markdown(feature) for feature in worst)


def feature_histogram_markdown(feature: FeatureDrift) -> str:
    """One small bar chart: the reference's and the batch's share of each profile bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = list(feature.bin_labels)[:_MAX_BARS]
    positions = np.arange(len(labels))
    figure, axis = plt.subplots(figsize=_FIGSIZE)
    axis.bar(positions - 0.2, feature.reference_shares[: len(labels)], width=0.4, label="reference", color="#8c8c8c")
    axis.bar(positions + 0.2, feature.batch_shares[: len(labels)], width=0.4, label="batch", color="#d9534f")
    axis.set_xticks(positions, labels, rotation=45, ha="right", fontsize=6)
    axis.tick_params(axis="y", labelsize=6)
    axis.set_ylabel("share", fontsize=7)
    axis.set_title(feature.name if feature.psi is None else f"{feature.name}  (PSI {feature.psi:.2f})", fontsize=8)
    axis.legend(fontsize=6)
    return png_markdown(figure, f"{feature.name} reference vs batch")


def read_drift_table_markdown(text: str) -> list[dict[str, str | float | None]]:
    """The rows `drift_table_markdown` wrote, as {feature, level, psi}: what the drift pages draw.

    The drift asset's per-feature table is this markdown in its metadata (`features`);
    reading it back here, beside its writer, keeps the two in step.
    """
    lines = [line for line in text.splitlines() if line.startswith("|")]
    if len(lines) < 2:
        return []
    header = _cells(lines[0])
    rows = []
    for line in lines[2:]:
        cells = dict(zip(header, _cells(line), strict=False))
        psi = cells.get("PSI", "")
        rows.append(
            {"feature": cells.get("feature", ""), "level": cells.get("level", ""), "psi": float(psi) if psi else None}
        )
    return rows


def _cells(line: str) -> list[str]:
    # A cell's own "|" was written as "\|" (see _row).
    cells = line.strip().strip("|").replace("\\|", "\0").split("|")
    return [cell.strip().replace("\0", "|") for cell in cells]
