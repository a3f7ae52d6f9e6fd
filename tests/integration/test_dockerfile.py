"""The ``Dockerfile`` and ``.dockerignore``, as far as this machine allows.

Without a Docker daemon the build is replayed here: the context is what ``.dockerignore``
lets through, each ``COPY`` copies into a scratch root, each ``RUN`` that installs runs with
the image's absolute paths under that root and a fresh virtual environment's pip first on
PATH (``python:3.11-slim`` is Python and pip). What cannot run here is the user setup
(``useradd``/``USER``); `test_docker_build` builds the real image where a daemon answers.
The app-image snippet of the README (the entrypoint wrapper's ``COPY --from``) is replayed
on the wheel that build keeps.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.integration.readme_install import install_snippets
from wfgy_rules import __version__

DOCKERFILE = REPO / "Dockerfile"
# The image's own directories, mapped under a scratch root when a RUN line is replayed.
_IMAGE_PATH = re.compile(r"(?<![\w.$/-])/(?:src|opt|tmp)(?:/[\w.*-]+)*/?")


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    logical = re.sub(r"\\\n\s*", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in logical.splitlines() if line.strip()]


def _ignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negated, pattern = line.startswith("!"), line.lstrip("!").strip("/")
        regex = re.sub(r"\\\*\\\*/|\\\*\\\*|\\\*|\\\?", lambda m: {r"\*\*/": "(?:.*/)?", r"\*\*": ".*", r"\*": "[^/]*", r"\?": "[^/]"}[m.group()], re.escape(pattern))
        rules.append((negated, re.compile(regex + r"\Z")))
    return rules


def _ignored(path: str, rules=None) -> bool:
    """Docker's reading of ``.dockerignore``: the last pattern matching the path or one of its
    parent directories decides; ``!`` lets it back in."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    verdict = False
    for negated, regex in rules or _ignore_rules():
        if any(regex.match(prefix) for prefix in prefixes):
            verdict = not negated
    return verdict


def _copies(stage: list[tuple[str, str]]) -> list[tuple[list[str], str, str | None]]:
    """Each COPY as (sources, destination, --from or None)."""
    found = []
    for instruction, arguments in stage:
        if instruction == "COPY":
            words = arguments.split()
            origin = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
            paths = [w for w in words if not w.startswith("--")]
            found.append((paths[:-1], paths[-1], origin))
    return found


def test_the_context_holds_what_the_dockerfile_copies_and_not_the_checkout_around_it():
    rules = _ignore_rules()
    sources = [source for paths, _, origin in _copies(_instructions(DOCKERFILE.read_text())) if origin is None for source in paths]
    assert sources, "the Dockerfile copies nothing from the context"
    for source in sources:
        assert (REPO / source).exists() and not _ignored(source, rules), source
    shipped = [p.relative_to(REPO).as_posix() for source in sources for p in [REPO / source, *(REPO / source).rglob("*")] if "__pycache__" not in p.parts]
    assert [path for path in shipped if _ignored(path, rules)] == []
    for left_behind in (".git", ".git/HEAD", ".venv", ".venv/bin/python", "tests/corpus/README.md", "bench", "dist",
                        "policies.example/wfgy.yaml", "wfgy_rules/__pycache__/cli.cpython-311.pyc", "rules/__pycache__"):
        assert _ignored(left_behind, rules), left_behind


def _python(root: Path) -> Path:
    """A fresh virtual environment (nothing installed but pip); its bin directory."""
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, timeout=120)
    return root / "bin"


def _replay_run(command: str, root: Path, cwd: Path, bin_dir: Path, env: dict[str, str]) -> None:
    """RUN, as ``/bin/sh -c`` runs it in the image, with the image's paths under ``root``."""
    script = _IMAGE_PATH.sub(lambda m: f"{root}{m.group()}", command)
    outside = [path for path in re.findall(r"(?<![\w.$/-])/[^\s\"']*", script) if not path.startswith(str(root))]
    assert outside == [], f"RUN {command}: a path this replay does not map"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WFGY_", "VIRTUAL_ENV"))}
    done = subprocess.run(["sh", "-c", script], cwd=cwd, env={**clean, **env, "PATH": f"{bin_dir}{os.pathsep}{clean['PATH']}"},
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"RUN {command}\n{done.stdout}{done.stderr}"


def _left_behind(directory: str, names: list[str]) -> list[str]:
    """What ``.dockerignore`` keeps out of a directory of the context (for copytree)."""
    rules = _ignore_rules()
    return [name for name in names if _ignored((Path(directory) / name).relative_to(REPO).as_posix(), rules)]


def _copy(source: Path, target: Path, into: bool) -> None:
    """COPY: a directory's contents to ``target``; a file to ``target``, or into it."""
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=_left_behind)
    else:
        destination = target / source.name if into else target
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def _build_here(root: Path, bin_dir: Path) -> list[str]:
    """Replay the Dockerfile under ``root`` with ``bin_dir``'s pip; the RUN lines not replayed."""
    cwd, env, skipped = root, {}, []
    for instruction, arguments in _instructions(DOCKERFILE.read_text()):
        if instruction == "WORKDIR":
            cwd = root / arguments.lstrip("/")
            cwd.mkdir(parents=True, exist_ok=True)
        elif instruction == "ARG":
            name, _, default = arguments.partition("=")
            env[name] = default.strip('"')
        elif instruction == "COPY":
            ((sources, destination, origin),) = _copies([(instruction, arguments)])
            assert origin is None, "a multi-stage build: replay its stages"
            target = root / destination.lstrip("/") if destination.startswith("/") else cwd / destination
            for source in sources:
                _copy(REPO / source, target, into=destination.endswith("/") or len(sources) > 1)
        elif instruction == "RUN" and "pip " in arguments:
            _replay_run(arguments, root, cwd, bin_dir, env)
        elif instruction == "RUN":
            skipped.append(arguments)
    return skipped


APP_POLICY = """\
apiVersion: wfgy-rules/v1
kind: Policy
metadata: {name: app}
rules:
  - {id: app.python, title: a Python runs, severity: high, facts: [runtime], assert: "runtime.python != null"}
"""


@pytest.mark.slow
def test_the_build_steps_install_the_tool_and_keep_its_wheel_for_app_images(tmp_path):
    """About 30 s: two fresh environments install from the package index."""
    root = tmp_path / "image"
    root.mkdir()
    skipped = _build_here(root, _python(tmp_path / "image-python"))
    assert [run.split()[0] for run in skipped] == ["useradd"]
    assert not (root / "src").exists()  # the sources do not stay in the image
    (wheel,) = (root / "opt" / "wfgy-rules").iterdir()
    assert wheel.name == f"wfgy_rules-{__version__}-py3-none-any.whl"
    version = subprocess.run([str(tmp_path / "image-python" / "bin" / "wfgy-rules"), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.stdout == f"wfgy-rules {__version__}\n"  # a wheel, not a checkout: the version alone
    # The app's image (the entrypoint wrapper): the README's snippet, on the wheel kept above.
    (snippet,) = install_snippets("dockerfile")
    app = tmp_path / "app"
    app.mkdir()
    app_python = _python(tmp_path / "app-python")
    for instruction, arguments in _instructions(snippet):
        if instruction == "COPY":
            ((sources, destination, origin),) = _copies([(instruction, arguments)])
            assert origin == "wfgy-rules" and sources == ["/opt/wfgy-rules/"]
            shutil.copytree(root / sources[0].strip("/"), app / destination.strip("/"))
        else:
            assert instruction == "RUN"
            _replay_run(arguments, app, app, app_python, {})
    assert not (app / "tmp" / "wfgy-rules").exists()
    (app / "app.yaml").write_text(APP_POLICY)
    gate = subprocess.run([str(app_python / "wfgy-rules"), "preflight", "--policy", "app.yaml", "--", sys.executable, "-c", "print('served')"],
                          capture_output=True, text=True, cwd=app, timeout=120)
    assert (gate.returncode, gate.stdout) == (0, "served\n"), gate.stderr


def test_the_readme_dockerfile_and_kubernetes_readme_show_the_same_app_image_lines():
    (snippet,) = install_snippets("dockerfile")
    lines = [line for line in snippet.splitlines() if line.startswith(("COPY", "RUN"))]
    assert len(lines) == 2
    header = "\n".join(line.removeprefix("#").strip() for line in DOCKERFILE.read_text().splitlines() if line.startswith("#"))
    kubernetes = (REPO / "policies.example" / "kubernetes" / "README.md").read_text(encoding="utf-8")
    wrapper = (REPO / "policies.example" / "kubernetes" / "entrypoint-wrapper.yaml").read_text(encoding="utf-8")
    for line in lines:
        assert line in header and line in wrapper.replace("#   ", ""), line
        assert re.sub(r"--from=\S+", "--from=IMAGE", line) in re.sub(r"--from=\S+", "--from=IMAGE", kubernetes), line
    assert "pip install wfgy-rules" not in wrapper + kubernetes  # not published: never installed by name


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _docker_answers(), reason="no Docker daemon answers here (docker info fails): the build is replayed instead")
def test_docker_build(tmp_path):
    tag = "wfgy-rules-test:build"
    done = subprocess.run(["docker", "build", "-q", "-t", tag, str(REPO)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    try:
        version = subprocess.run(["docker", "run", "--rm", tag, "--version"], capture_output=True, text=True, timeout=120)
        assert version.stdout == f"wfgy-rules {__version__}\n"
        listing = subprocess.run(["docker", "run", "--rm", "--entrypoint", "sh", tag, "-c", "id -u; ls /opt/wfgy-rules; ls -a /work"], capture_output=True, text=True, timeout=120)
        assert listing.stdout.split() == ["10001", f"wfgy_rules-{__version__}-py3-none-any.whl", ".", ".."]
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True, timeout=120)
