"""The project's declared models: Python declarations listed here, YAML ones as `defs.yaml` below this folder.

This folder is also the dg project's defs folder (pyproject.toml, [tool.dg]), so
`dg check yaml` validates every `defs.yaml` against the declaration's schema.
"""

from assets.ecommerce import ecommerce

PYTHON_DECLARATIONS = [ecommerce]
