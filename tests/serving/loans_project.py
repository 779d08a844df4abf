"""A project of one model for the serving tests: the loans declaration on $ASSET_PLATFORM_HOME."""

from definitions import build_definitions
from tests.declaration.loans import loans_declaration

defs = build_definitions([loans_declaration()])
