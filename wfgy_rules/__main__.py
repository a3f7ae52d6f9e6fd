"""``python -m wfgy_rules`` runs the CLI."""

from wfgy_rules.cli import main

main()
