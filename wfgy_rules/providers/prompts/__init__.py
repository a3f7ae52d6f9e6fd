"""Prompt files and the placeholders they expect."""
