"""Mutation testing of the core: do the tests notice when one small thing in it changes?

    .venv/bin/python scripts/mutation.py                  # every core module, then the score
    .venv/bin/python scripts/mutation.py operators engine # some of them (names below)
    .venv/bin/python scripts/mutation.py --list operators # the mutants, without running them

Each mutant changes one operator of one module (``<`` to ``<=`` or ``>``, ``==`` to ``!=``,
``is`` to ``is not``, ``in`` to ``not in``, ``and`` to ``or``, a dropped ``not``, ``True`` to
``False``, an integer ``n`` to ``n + 1``, ``any`` to ``all``, ``max`` to ``min``, a regular
expression without one of its ``|`` alternatives or ``^``/``$`` anchors); the module's
focused tests (``MODULES``, run with ``-m "not slow" -x``) must then fail. A mutant they pass
*survived*. The score is killed / all; the accepted survivors, each equivalent or not worth a
test, are listed in ``bench/MUTATION.md``; the score leaves them out (killed / the rest), and
the command exits 1 while any other mutant survives: a test to write (or an entry there, with
its reason).

Why not mutmut or cosmic-ray: mutmut 3 swaps functions through trampolines, so nothing built
at import time is mutated for real (the ``OPERATORS`` table of lambdas, the ``_ordered`` and
``_version_op`` factories: 45 false survivors in operators.py alone), and cosmic-ray starts
a fresh pytest per mutant (about 5 s each on a 2-core machine). Here the tools the tests
import are imported once and each mutant runs in a forked child that imports the package
from a scratch copy holding the mutated file (no bytecode is written, so none goes stale).

This is a periodic check like the benchmarks, not part of ``.ci/run``.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ACCEPTED = REPO / "bench" / "MUTATION.md"
COPIED = ("wfgy_rules", "tests", "schemas", "rules", "policies.example", "pyproject.toml", "README.md")

# name: (module file, focused tests, only these top-level functions (None: the whole module)).
MODULES: dict[str, tuple[str, tuple[str, ...], frozenset[str] | None]] = {
    "operators": ("wfgy_rules/policy/operators.py", ("tests/policy/test_operators.py",), None),
    "versions": ("wfgy_rules/policy/versions.py", ("tests/policy/test_operators.py", "tests/policy/test_versions.py", "tests/policy/test_functions.py"), None),
    "functions": ("wfgy_rules/policy/functions.py", ("tests/policy/test_functions.py",), None),
    "compiler": ("wfgy_rules/policy/compiler.py", ("tests/policy/test_compiler.py", "tests/run/test_engine.py", "tests/policy/test_operators.py"), None),
    "engine": ("wfgy_rules/run/engine.py", ("tests/run/test_engine.py", "tests/policy/test_operators.py"), None),
    "outcome": ("wfgy_rules/run/outcome.py", ("tests/run/test_outcome.py", "tests/run/test_engine.py"), None),
    "waivers": ("wfgy_rules/run/waivers.py", ("tests/run/test_waivers.py",), None),
    "env": (
        "wfgy_rules/providers/env/env.py",
        ("tests/providers/test_env_values.py",),
        frozenset({"value_kind", "looks_secret", "_exposed_values", "_holds_credential",
                   "SECRET_NAME", "VALUE_KINDS", "CREDENTIAL_KINDS", "URL_WITH_USERINFO", "EMBEDDED_CREDENTIAL"}),
    ),
}

# Imported once in the parent, so each forked child only imports the package and its tests.
PRELOAD = ("pytest", "yaml", "jsonschema", "jmespath", "packaging.version", "packaging.specifiers", "jinja2", "typer", "hypothesis")

COMPARE_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
          ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
NAME_SWAPS = {"any": "all", "all": "any", "max": "min", "min": "max"}


@dataclass(frozen=True)
class Mutant:
    module: str
    number: int
    line: int
    function: str
    change: str
    source: str

    def __str__(self) -> str:
        return f"{self.module}#{self.number} line {self.line} ({self.function}): {self.change}"


class _Mutator(ast.NodeTransformer):
    """Counts the mutation points of a tree in walk order; applies the ``target``-th one."""

    def __init__(self, target: int | None, functions: frozenset[str] | None):
        self.target, self.functions = target, functions
        self.count, self.points, self.function = 0, [], "<module>"

    def _point(self, node: ast.AST, change: str) -> bool:
        if self.functions is not None and self.function not in self.functions:
            return False
        self.points.append((node.lineno, self.function, change))
        self.count += 1
        return self.count - 1 == self.target

    def visit_FunctionDef(self, node):
        if self.function == "<module>":
            self.function = node.name
            self.generic_visit(node)
            self.function = "<module>"
            return node
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):  # methods count as their class's functions
        return self.visit_FunctionDef(node)

    def visit_Expr(self, node):  # docstrings and bare strings hold nothing to mutate
        return node if isinstance(node.value, ast.Constant) else self.generic_visit(node)

    def visit_If(self, node):
        if isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return node
        return self.generic_visit(node)

    def visit_AnnAssign(self, node):  # annotations are not behaviour; the value is
        if node.value is not None:
            node.value = self._constant(node.target, node.value)
        return node

    def visit_Assign(self, node):
        node.value = self._constant(node.targets[0], node.value)
        return node

    def _constant(self, target: ast.AST, value: ast.AST) -> ast.AST:
        """A module-level ``NAME = …`` counts as the function ``NAME`` (to select regexes)."""
        if self.function != "<module>" or not isinstance(target, ast.Name):
            return self.visit(value)
        self.function = target.id
        value = self.visit(value)
        self.function = "<module>"
        return value

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "compile" and isinstance(func.value, ast.Name)
                and func.value.id == "re" and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            for change, pattern in _regex_mutants(node.args[0].value):
                if self._point(node, change):
                    node.args[0] = ast.Constant(pattern)
        return node

    def visit_arg(self, node):
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            for new in COMPARE_SWAPS[type(op)]:
                if self._point(node, f"{SYMBOL[type(op)]} -> {SYMBOL[new]}"):
                    node.ops[i] = new()
        return node

    def visit_BoolOp(self, node):
        self.generic_visit(node)
        old, new = ("and", ast.Or) if isinstance(node.op, ast.And) else ("or", ast.And)
        if self._point(node, f"{old} -> {new.__name__.lower()}"):
            node.op = new()
        return node

    def visit_UnaryOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._point(node, "not x -> x"):
            return node.operand
        return node

    def visit_Constant(self, node):
        value = node.value
        if isinstance(value, bool):
            if self._point(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int):
            if self._point(node, f"{value} -> {value + 1}"):
                return ast.copy_location(ast.Constant(value + 1), node)
        return node

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in NAME_SWAPS:
            if self._point(node, f"{node.id} -> {NAME_SWAPS[node.id]}"):
                return ast.copy_location(ast.Name(NAME_SWAPS[node.id], ast.Load()), node)
        return node


def _regex_mutants(pattern: str) -> list[tuple[str, str]]:
    """A pattern without each of its ``|`` alternatives, and without each ``^`` / ``$`` anchor."""
    found, depth, starts, spans = [], 0, [0], []
    bounds: dict[int, list[int]] = {0: [0]}
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":  # a character class holds no alternatives
            i = pattern.index("]", i + 2 if pattern[i + 1:i + 2] == "]" else i + 1) + 1
            continue
        if char == "(":
            depth += 1
            start = i + 1 + (2 if pattern[i + 1:i + 3] == "?:" else 0)
            starts.append(start)
            bounds[start] = [start]
        elif char == "|":
            bounds[starts[-1]].append(i + 1)
        elif char == ")":
            spans.append((bounds.pop(starts[-1]), i))
            starts.pop()
            depth -= 1
        i += 1
    spans.append((bounds.pop(0), len(pattern)))
    for cuts, end in spans:
        if len(cuts) < 2:
            continue
        edges = [*cuts, end + 1]
        for k in range(len(cuts)):
            left, right = edges[k], edges[k + 1] - 1
            alternative = pattern[left:right]
            if k == len(cuts) - 1:  # the last one: drop it with the bar before it
                kept = pattern[:left - 1] + pattern[right:]
            else:
                kept = pattern[:left] + pattern[right + 1:]
            found.append((f"regex without alternative {alternative!r}", kept))
    for i, char in enumerate(pattern):
        if char in "^$" and (i == 0 or pattern[i - 1] not in "\\[") and not (char == "^" and pattern[i - 1:i] == "["):
            found.append((f"regex without anchor {char!r} at {i}", pattern[:i] + pattern[i + 1:]))
    return found


def mutants_of(name: str, root: Path = REPO) -> list[Mutant]:
    path, _, functions = MODULES[name]
    text = (root / path).read_text()
    survey = _Mutator(None, functions)
    survey.visit(ast.parse(text))
    found = []
    for number, (line, function, change) in enumerate(survey.points):
        tree = _Mutator(number, functions).visit(ast.parse(text))
        found.append(Mutant(name, number, line, function, change, ast.unparse(ast.fix_missing_locations(tree))))
    return found


def accepted() -> set[tuple[str, str, str]]:
    """(module, function, change) of the survivors ``bench/MUTATION.md`` accepts: its table rows
    start with `` `MODULE FUNCTION: CHANGE` `` (no line number: lines move)."""
    import re

    rows = re.findall(r"^\| `(\w+) ([\w<>]+): (.+?)` \|", ACCEPTED.read_text(), re.M) if ACCEPTED.exists() else []
    return set(rows)


def _scratch() -> Path:
    root = Path(tempfile.mkdtemp(prefix="wfgy-mutation-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for entry in COPIED:
        source = REPO / entry
        if source.is_dir():
            shutil.copytree(source, root / entry, ignore=ignore)
        elif source.exists():
            shutil.copy2(source, root / entry)
    return root


def _pytest_args(tests: tuple[str, ...]) -> list[str]:
    return ["-x", "-q", "-m", "not slow", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]


def _run_tests(root: Path, tests: tuple[str, ...], timeout: float) -> str:
    """``passed``, ``failed`` or ``timeout``: the focused tests in a child importing from ``root``."""
    pid = os.fork()
    if pid == 0:  # the child: import the package from the scratch copy, run the tests, exit
        try:
            os.chdir(root)
            sys.path.insert(0, str(root))
            os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            import pytest

            code = pytest.main(_pytest_args(tests))
        except BaseException:
            code = 99
        os._exit(int(code))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "passed" if os.waitstatus_to_exitcode(status) == 0 else "failed"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.02)


def run_module(name: str, root: Path, verbose: bool) -> tuple[int, list[Mutant]]:
    path, tests, _ = MODULES[name]
    target = root / path
    original = target.read_text()
    started = time.monotonic()
    if _run_tests(root, tests, timeout=600) != "passed":
        sys.exit(f"{name}: the focused tests fail without any mutant ({' '.join(tests)})")
    baseline = time.monotonic() - started
    found = mutants_of(name, root)  # from the snapshot: the work tree may change meanwhile
    survivors = []
    try:
        for mutant in found:
            target.write_text(mutant.source)
            outcome = _run_tests(root, tests, timeout=max(10.0, 5 * baseline))
            if outcome == "passed":
                survivors.append(mutant)
            if verbose:
                print(f"  {'SURVIVED' if outcome == 'passed' else outcome:8} {mutant}", flush=True)
    finally:
        target.write_text(original)
    return len(found), survivors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", choices=[[], *MODULES], metavar="MODULE", help=f"some of: {', '.join(MODULES)}")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant's outcome")
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    if args.list:
        for name in names:
            for mutant in mutants_of(name):
                print(mutant)
        return 0
    sys.dont_write_bytecode = True  # children inherit it: a mutated file never meets a stale .pyc
    for module in PRELOAD:
        __import__(module)
    root = _scratch()
    known = accepted()
    totals = [0, 0, 0]  # mutants, killed, accepted survivors
    new_survivors = 0
    try:
        for name in names:
            started = time.monotonic()
            total, survivors = run_module(name, root, args.verbose)
            fine = [m for m in survivors if (m.module, m.function, m.change) in known]
            killed = total - len(survivors)
            for i, n in enumerate((total, killed, len(fine))):
                totals[i] += n
            new_survivors += len(survivors) - len(fine)
            print(_score(name, total, killed, len(fine)) + f"  ({time.monotonic() - started:.0f} s)", flush=True)
            for mutant in survivors:
                print(f"    {'accepted' if mutant in fine else 'SURVIVED'}: {mutant}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(_score("core" if not args.modules else "total", *totals))
    return 1 if new_survivors else 0


def _score(name: str, total: int, killed: int, fine: int) -> str:
    """Killed of all, and killed of those not accepted as equivalent (bench/MUTATION.md)."""
    judged = total - fine
    return (f"{name:10} {killed:4}/{total:<4} killed {100 * killed / max(total, 1):5.1f} %;"
            f" {fine:3} accepted; score {100 * killed / max(judged, 1):5.1f} % ({killed}/{judged})")


if __name__ == "__main__":
    sys.exit(main())
