"""Pages beside the Dagster UI, served under /platform/ by our webserver: the fleet, each model's versions and drift.

Read-only over the Dagster instance (the event log's metadata, as the UI shows it);
the charts are Plotly figures drawn by the plotly.js that the Python package ships,
served from this webserver, so a page fetches nothing from elsewhere.
"""

PAGES_PREFIX = "/platform"
