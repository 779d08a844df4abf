"""A project of one multiclass model for the serving tests: the ticket router (tests/ml/tickets.py), LightGBM
only, with a canary declared (it answers nothing until a challenger is shadowed)."""

from definitions import build_definitions
from tests.ml.tickets import FAMILIES, tickets_declaration


def served_tickets():
    return tickets_declaration(models=FAMILIES[:1], serving={"canary_fraction": 0.2})


defs = build_definitions([served_tickets()])
