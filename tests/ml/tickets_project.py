"""A project of one model for the multiclass CLI tests: the ticket router (tests/ml/router.py) on
$ASSET_PLATFORM_HOME, as `asset-platform -m tests.ml.tickets_project` loads it."""

from definitions import build_definitions
from tests.ml.router import router_declaration

defs = build_definitions([router_declaration()])
