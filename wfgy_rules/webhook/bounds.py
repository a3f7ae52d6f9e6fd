"""What one AdmissionReview may hold, so that judging it fits in time and memory.

A review's cost grows with what is in it: a Pod of 100,000 containers took seconds and
hundreds of MB to judge. These bounds keep every review small enough that the webhook's
judges (`wfgy_rules.webhook.judges`) stay within the Deployment's memory limit however many
reviews arrive together.

Before parsing, the body itself:

* at most ``MAX_VALUES`` JSON values (objects, arrays, strings, numbers…), counted from the
  raw bytes as commas and opening brackets — a count that can only be too high (a comma
  inside a string counts too), so no body with more values is ever parsed;
* nested at most ``MAX_DEPTH`` levels, the same cap as fact bundles
  (`wfgy_rules.documents.fact_bundles`).

A body over either, or not JSON at all, gets HTTP 400 ``body is not JSON…`` /
``body holds more than … JSON values``: without parsing it there is no uid to answer.

After parsing, the object under review (its containers wherever they sit: a Pod's
``spec``, a template's ``spec.template.spec``):

* at most ``MAX_CONTAINERS`` containers, init and ephemeral containers included;
* at most ``MAX_ENV`` ``env`` and ``envFrom`` entries over all of them;
* at most ``MAX_ARGS`` ``command`` and ``args`` entries over all of them (each is read by
  the launch parser, which recognises the model server a container runs).

An object over these is **denied** (``allowed: false``, code 403), whatever the failure
mode: a Pod the webhook will not judge is not admitted unjudged.

Warnings follow kube-apiserver's own limits (Kubernetes docs, "Admission webhook
warnings"): a warning over 256 characters may be cut, and warnings past 4,096 characters
in all are dropped. The answer keeps whole warnings up to ``MAX_WARNINGS_TEXT`` characters
together, then one last line saying how many more the log line counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from wfgy_rules.documents.fact_bundles import MAX_DEPTH, check_depth
from wfgy_rules.errors import WfgyError

MAX_VALUES = 100_000
MAX_CONTAINERS = 256
MAX_ENV = 4096
MAX_ARGS = 4096
MAX_WARNING = 256  # characters per warning, as kube-apiserver truncates them
MAX_WARNINGS_TEXT = 4096  # characters of all warnings together, as kube-apiserver keeps them
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
ENV_LISTS = ("env", "envFrom")
ARGS_LISTS = ("command", "args")


class BadReview(WfgyError):
    """The request is not an AdmissionReview this webhook can answer (HTTP 400)."""


def parse(raw: bytes | bytearray) -> Any:
    """The JSON document of a request body, within `MAX_VALUES` and `MAX_DEPTH`; `BadReview`
    otherwise (the value count is checked on the raw bytes, before anything is built)."""
    values = raw.count(b",") + raw.count(b"{") + raw.count(b"[") + 1
    if values > MAX_VALUES:
        raise BadReview(f"body holds more than {MAX_VALUES} JSON values (commas and brackets counted before parsing)")
    try:
        document = json.loads(raw)
    except RecursionError:
        raise BadReview(f"body is not JSON: nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise BadReview("body is not JSON") from None
    try:
        check_depth(document)
    except ValueError:
        raise BadReview(f"body is not JSON: nested deeper than {MAX_DEPTH} levels") from None
    return document


def excess(obj: dict[str, Any]) -> str | None:
    """Why the object is beyond what the webhook judges (too many containers, env entries
    or arguments), or None."""
    containers = env = args = 0
    for container in _containers(obj):
        containers += 1
        env += _entries(container, ENV_LISTS)
        args += _entries(container, ARGS_LISTS)
    if containers > MAX_CONTAINERS:
        return f"{containers} containers; this webhook judges at most {MAX_CONTAINERS}"
    if env > MAX_ENV:
        return f"{env} env and envFrom entries; this webhook judges at most {MAX_ENV}"
    if args > MAX_ARGS:
        return f"{args} command and args entries; this webhook judges at most {MAX_ARGS}"
    return None


def _entries(container: dict[str, Any], keys: tuple[str, ...]) -> int:
    return sum(len(container[key]) for key in keys if isinstance(container.get(key), list))


def _containers(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every container (init and ephemeral ones too) anywhere in the object, without
    recursion (the object is already bounded in values and depth)."""
    pending: list[Any] = [obj]
    while pending:
        node = pending.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if key in CONTAINER_LISTS and isinstance(child, list):
                yield from (c for c in child if isinstance(c, dict))
            if isinstance(child, (dict, list)):
                pending.append(child)


def capped_warnings(warnings: list[str]) -> list[str]:
    """Each warning cut to `MAX_WARNING` characters; whole warnings while they fit in
    `MAX_WARNINGS_TEXT` characters, then one line saying how many were left out."""
    kept: list[str] = []
    room = MAX_WARNINGS_TEXT - MAX_WARNING  # kept for the closing line
    for number, warning in enumerate(warnings):
        text = cut(warning, MAX_WARNING)
        if len(text) > room:
            left = len(warnings) - number
            return [*kept, f"… and {left} more warning{'s' if left > 1 else ''} from wfgy-rules (the webhook log counts them)"]
        kept.append(text)
        room -= len(text)
    return kept


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
