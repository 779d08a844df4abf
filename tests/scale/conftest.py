"""One champion for the batch-engine tests: trained once per test session."""

from __future__ import annotations

import pytest

from benchmarks.scale import scale_declaration, train_champion


@pytest.fixture(scope="session")
def champion():
    """(declaration, model, reference profile) of benchmarks/scale.py's model, trained on 3,000 rows."""
    declaration = scale_declaration(sample_rows=200)
    model, profile = train_champion(declaration, rows=3000)
    return declaration, model, profile


@pytest.fixture(scope="package", autouse=True)
def _spark_stopped_after_the_scale_tests():
    """The Spark JVM the spark-engine tests started (tests/spark.py) is stopped once they are done, so the rest of
    the session does not carry it."""
    yield
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
