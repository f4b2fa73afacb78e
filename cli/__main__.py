"""`python -m cli ...` runs the `dynasty` command."""

from cli.main import run

run()
