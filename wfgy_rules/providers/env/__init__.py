"""The environment: declared and effective variables, .env files, secrets and the table of real names."""
