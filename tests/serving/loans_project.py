"""A project of one model for the serving tests: loans on $ASSET_PLATFORM_HOME, as tests/declaration/loans_model.py
declares it plus a third family and a canary (tests/serving/canary_model.py: no canary until one is shadowed)."""

from definitions import build_definitions
from tests.serving.canary_model import canary_declaration

defs = build_definitions([canary_declaration()])
