"""Run the hub's command line with ``python -m hub``."""

from hub.cli.main import app

app()
