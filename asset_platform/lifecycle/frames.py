"""The annotation of DataFrame inputs and outputs in the built assets.

Dagster reads asset functions' annotations when the code location loads;
annotating them with pandas types would import pandas (about a second, a third
of the load time) into every code-location process, most of which never touch
a frame. `Frame` documents the intent and keeps pandas out of the load path;
pandas is imported inside the functions that run.
"""

from typing import Any

Frame = Any
