"""Structural validation of documents against the JSON Schemas in ``schemas/``.

Every violation becomes a `Problem` pointing at the offending key or value in the YAML
source, e.g. ``policy.yaml:7:5: rules[0]: unknown key 'asert' (did you mean 'assert'?)``.
All violations of a document are reported, in source order.

A file that is not a wfgy-rules document of the expected kind (its top level is not a
mapping, or it lacks ``apiVersion: wfgy-rules/…`` where the kind has one) may be a secret
passed by mistake (``-c .env``, a token file): its problems name the file, line, column
and the *type* of each offending value, never the value itself.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from wfgy_rules.documents.fast_schema_check import ecma_regex, is_valid
from wfgy_rules.documents.yamlio import Document
from wfgy_rules.errors import Problem, did_you_mean
from wfgy_rules.jsonvalues import a_type_name, canonical, show
from wfgy_rules.resources import resource_path

SCHEMA_NAMES = ("policy", "config", "policy-test", "model-card", "prompt-vars", "report")


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """The published JSON Schema ``schemas/<name>.schema.json``."""
    if name not in SCHEMA_NAMES:
        raise KeyError(name)
    return json.loads(resource_path(f"schemas/{name}.schema.json").read_text(encoding="utf-8"))


def validate(document: Document, name: str, header_given: bool = True) -> list[Problem]:
    """All schema violations of ``document`` against schema ``name``, in source order
    (``header_given=False``: the caller added the ``apiVersion``/``kind`` the file left out)."""
    schema = load_schema(name)
    data = document.data
    if not isinstance(data, dict):
        what = f"a {name} file" if name == "model-card" else f"a wfgy-rules {name} file"
        return [document.problem((), f"expected a mapping ({what}), got {a_type_name(data)}; its content is not shown")]
    known = schema.get("properties", {})
    if "apiVersion" in known:  # ours by its header, or (a header-less config) by its keys alone
        ours = str(data.get("apiVersion", "")).startswith("wfgy-rules/") if header_given else set(data) <= set(known)
    else:
        ours = True
    return validate_value(document, data, (), schema, quote=ours)


def validate_value(document: Document, value: Any, base: tuple, schema: dict[str, Any], quote: bool = True) -> list[Problem]:
    """Violations of ``value`` (found at ``base`` inside ``document``) against ``schema``;
    with ``quote=False`` a message names the type of an offending value, not the value.

    The fast checker answers for valid documents; jsonschema is imported only to explain."""
    if is_valid(schema, value):
        return []
    problems = []
    for error in _validator_for(canonical(schema)).iter_errors(value):
        for relevant in _most_relevant(error):
            problems.extend(_describe(document, base, relevant, show if quote else a_type_name))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.message))
    return problems


@lru_cache(maxsize=64)
def _validator_for(schema_text: str):
    from jsonschema import Draft202012Validator, ValidationError, validators

    def pattern(validator, regex, instance, schema):
        if validator.is_type(instance, "string") and not ecma_regex(regex).search(instance):
            yield ValidationError(f"{instance!r} does not match {regex!r}")

    ecma = validators.extend(Draft202012Validator, {"pattern": pattern})
    return ecma(json.loads(schema_text))


def _most_relevant(error) -> list:
    """For ``anyOf``/``oneOf``: every error of the branch the value was meant for.

    The branch is the one whose errors hold no plain type mismatch at the value itself (a
    mapping under ``assert`` was meant to be a condition, not an expression string; a mapping
    under a policy test's ``expect`` was meant to be ``{status, count}``, not a status name,
    though ``enum`` complains of it too).
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    branches: dict[int, list] = {}
    for sub in error.context:
        branches.setdefault(sub.schema_path[0], []).append(sub)
    meant = [errs for errs in branches.values() if not any(e.validator == "type" and not e.relative_path for e in errs)]
    if len(meant) != 1:
        from jsonschema.exceptions import best_match

        return _most_relevant(best_match(error.context))
    return [leaf for sub in meant[0] for leaf in _most_relevant(sub)]


def _describe(document: Document, base: tuple, error, show=show) -> list[Problem]:
    where = (*base, *error.absolute_path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = sorted(error.schema.get("properties", {}))
        return [
            document.problem((*where, key), f"unknown key {key!r}{did_you_mean(key, known)}", key=True)
            for key in error.instance
            if key not in known
        ]
    if kind == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [document.problem(where, f"missing required key {missing!r}")]
    if kind == "enum":
        choices = [str(c) for c in error.validator_value]
        hint = did_you_mean(str(error.instance), choices) if isinstance(error.instance, str) and show is not a_type_name else ""
        return [document.problem(where, f"{show(error.instance)} is not one of: {', '.join(choices)}{hint}")]
    if kind == "const":
        return [document.problem(where, f"{show(error.instance)} must be {error.validator_value!r}")]
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, str) else " or ".join(error.validator_value)
        return [document.problem(where, f"expected {expected}, got {show(error.instance)}")]
    if kind == "pattern":
        return [document.problem(where, f"{show(error.instance)} does not match {error.validator_value}")]
    if show is a_type_name:
        return [document.problem(where, f"{a_type_name(error.instance)} breaks the schema's {kind!r} rule")]
    return [document.problem(where, error.message)]

