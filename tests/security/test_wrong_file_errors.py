"""A secret file passed where a document is expected is named, never quoted.

``eval -c .env``, ``test token`` and friends used to print ``expected object, got
"OPENAI_API_KEY=sk-…"``; ``preflight`` copied that line into the termination log that
``kubectl describe pod`` shows.
"""

from __future__ import annotations

import pytest

from tests.helpers import run_cli

SECRET = "sk-proj-CANARYwrongfile0123456789abcdef"
FILES = {
    ".env": f"OPENAI_API_KEY={SECRET}\n",
    "token": f"{SECRET}\n",  # a service-account token file: one line, no newline structure
    "creds.yaml": f"password: {SECRET}\nkind: {SECRET}\n",  # a mapping, but not ours
    "list.yaml": f"- {SECRET}\n",
}
COMMANDS = [
    ("eval", "-c"),
    ("eval", "-p"),
    ("list", "-p"),
    ("facts", "-c"),
    ("test",),
    ("validate",),
    ("preflight", "-c"),
]


@pytest.mark.parametrize("name", sorted(FILES))
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_a_secret_file_given_as_a_document_is_never_quoted(tmp_path, name, command):
    (tmp_path / name).write_text(FILES[name])
    log = tmp_path / "termination-log"
    log.write_text("")
    done = run_cli(*command, name, cwd=tmp_path, env={"WFGY_TERMINATION_LOG": str(log)})
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert name in done.stderr
    for text in (done.stdout, done.stderr, log.read_text()):
        assert SECRET not in text and "CANARY" not in text


def test_the_error_still_says_what_is_wrong(tmp_path):
    (tmp_path / ".env").write_text(FILES[".env"])
    done = run_cli("eval", "-c", ".env", cwd=tmp_path)
    assert done.stderr.strip() == ".env:1:1: expected a mapping (a wfgy-rules config file), got a string; its content is not shown"
