"""The findings tests reuse the monitoring tests' trained ecommerce home (trained once per session)."""

from tests.monitoring.conftest import trained_home  # noqa: F401 - the shared session fixture
