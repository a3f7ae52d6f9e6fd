"""Placeholder scanners for the ``prompts`` provider: which variables a prompt template
expects, per syntax, with positions (the Jinja walker and its extension live here too)."""
