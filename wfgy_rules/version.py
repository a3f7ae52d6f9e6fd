"""What ``wfgy-rules --version`` says: the version, and the commit when run from a checkout.

::

    $ wfgy-rules --version                  # installed from a wheel (pip, the image)
    wfgy-rules 0.1.0
    $ .venv/bin/wfgy-rules --version        # pip install -e . in a clone
    wfgy-rules 0.1.0 (commit c08843e1a2b3 on main)
    wfgy-rules 0.1.0 (commit 5d1e0c9f7a21, tag v0.1.0)      # a tag checked out

The version is the one place it is written, ``wfgy_rules.__version__`` (the build reads it
from there too). The package counts as a checkout when the directory above it holds this
project's ``pyproject.toml`` and a ``.git`` (a directory, or the file a worktree or a
submodule has). The commit is read from ``.git`` itself (``HEAD``, loose and packed refs,
the tags that point at it), so no ``git`` needs to be installed. Uncommitted changes are not
looked for. Anything unreadable there leaves the version alone: ``--version`` never fails.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

from wfgy_rules import __version__

SOURCE_ROOT = Path(__file__).resolve().parent.parent
_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 repositories
_PROJECT_NAME = re.compile(r'(?m)^name\s*=\s*"wfgy-rules"\s*$')


def describe(root: Path = SOURCE_ROOT) -> str:
    """``0.1.0``, or from a checkout ``0.1.0 (commit 1a2b3c4d5e6f on main)``."""
    try:
        found = _checkout_head(root)
    except (OSError, UnicodeDecodeError, zlib.error):
        found = None
    if found is None:
        return __version__
    commit, branch, tags = found
    where = f", tag {', '.join(tags)}" if tags else (f" on {branch}" if branch else "")
    return f"{__version__} (commit {commit[:12]}{where})"


def _checkout_head(root: Path) -> tuple[str, str | None, list[str]] | None:
    """(commit, branch or None when detached, tags at the commit) of the checkout at ``root``."""
    project = root / "pyproject.toml"
    if not project.is_file() or not _PROJECT_NAME.search(project.read_text(encoding="utf-8")):
        return None
    git_dir = _git_dir(root / ".git")
    if git_dir is None:
        return None
    common = git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip() if (git_dir / "commondir").is_file() else git_dir
    head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    branch = head[len("ref: "):] if head.startswith("ref: ") else None
    commit = _resolve(branch, git_dir, common) if branch else head
    if commit is None or not _OBJECT_ID.fullmatch(commit):
        return None  # a branch with no commit yet
    return commit, branch and branch.removeprefix("refs/heads/"), _tags_at(commit, common)


def _git_dir(dot_git: Path) -> Path | None:
    if dot_git.is_dir():
        return dot_git
    if dot_git.is_file():  # "gitdir: PATH" (a worktree, a submodule)
        line = dot_git.read_text(encoding="utf-8").strip()
        if line.startswith("gitdir: "):
            return (dot_git.parent / line[len("gitdir: "):]).resolve()
    return None


def _resolve(ref: str, git_dir: Path, common: Path) -> str | None:
    """The object a ref names: its loose file (in the worktree's own directory, then the
    common one), else its line in ``packed-refs``."""
    for base in (git_dir, common):
        loose = base / ref
        if loose.is_file():
            return loose.read_text(encoding="utf-8").strip()
    return _packed_refs(common).get(ref, (None, None))[0]


def _packed_refs(common: Path) -> dict[str, tuple[str, str | None]]:
    """ref → (object, the commit an annotated tag peels to, or None) from ``packed-refs``."""
    refs: dict[str, tuple[str, str | None]] = {}
    packed = common / "packed-refs"
    last = None
    for line in packed.read_text(encoding="utf-8").splitlines() if packed.is_file() else ():
        if line.startswith("^") and last is not None:  # the peeled commit of the tag above
            refs[last] = (refs[last][0], line[1:].strip())
        elif line and not line.startswith("#"):
            sha, _, last = line.partition(" ")
            refs[last] = (sha, None)
    return refs


def _tags_at(commit: str, common: Path) -> list[str]:
    tags = {ref: peeled or _peel(sha, common) for ref, (sha, peeled) in _packed_refs(common).items() if ref.startswith("refs/tags/")}
    folder = common / "refs" / "tags"
    for path in folder.rglob("*") if folder.is_dir() else ():
        if path.is_file():
            tags[path.relative_to(common).as_posix()] = _peel(path.read_text(encoding="utf-8").strip(), common)
    return sorted(ref[len("refs/tags/"):] for ref, target in tags.items() if target == commit)


def _peel(sha: str, common: Path) -> str:
    """The commit an annotated tag object names (read from its loose object); else ``sha``."""
    loose = common / "objects" / sha[:2] / sha[2:]
    if not loose.is_file():
        return sha  # a commit, or a tag packed away: taken as it is
    body = zlib.decompress(loose.read_bytes())
    if not body.startswith(b"tag "):
        return sha
    first = body.split(b"\0", 1)[1].split(b"\n", 1)[0].decode("ascii")  # "object <commit>"
    return first.removeprefix("object ")
