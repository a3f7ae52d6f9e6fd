"""One module per subcommand; each is a plain function returning an exit code, usable
without Typer."""
