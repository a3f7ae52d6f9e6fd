"""What may never be exposed: the one credential test of every provider that can publish a
value (``env.expose``, ``kubernetes.expose``).

A variable is refused, whatever the config says, when

* its **name** is declared secret (``secret: true`` in the declared env, a name the
  ``secrets`` provider requires) or says it holds a credential: it ends in ``_KEY``,
  ``_TOKEN``, ``_SECRET``, ``_PASSWORD``, ``_PASSWD`` or ``_CREDENTIAL(S)``;
* its **value** holds a credential anywhere in it:

  - an API key of a known shape (``key_kinds`` in ``env_names.yaml``: ``sk-``, ``sk-ant-``,
    ``hf_``, ``gsk_``, ``AIza``, ``xai-``, ``r8_``, ``pplx-`` …), at the start or after any
    character that is not a letter or digit (``Bearer sk-ant-…``, ``token=hf_…``);
  - another service's credential (``credential_shapes``: GitHub ``ghp_…``, AWS
    ``AKIA…``, Slack, Stripe, npm, GitLab tokens, JWTs, PEM private keys …);
  - a URL with user info (``postgres://admin:PASS@db/prod``, ``https://user@host``);
  - a password or token assignment (``Server=db;Password=…``, ``redis://db?password=…``,
    ``api_key: …``).

A refusal is a `ProviderError` "refusing to expose secret variable NAME": the run reports
the provider's rules as errors and no value appears anywhere.

The same tables classify values for the ``env`` facts: `value_kind` gives a value's shape
(``openai_key``, ``url``, ``other`` …) and `kind_providers` who issues keys of that shape.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection

from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.env.env_tables import tables

SECRET_NAME = re.compile(r"(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.I)
URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
URL_USERINFO = re.compile(r"://[^/?#@\s]*@")  # an @ in a URL's authority, anywhere: postgres://u:p@db
ASSIGNED_SECRET = re.compile(
    r"(?:^|[^A-Za-z0-9])(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\s*[=:]\s*[^\s&;,'\"]", re.I
)


def looks_secret(name: str) -> bool:
    """Whether a variable's name says it holds a credential (``*_KEY``, ``*_TOKEN``, …)."""
    return bool(SECRET_NAME.search(name))


def holds_credential(value: str) -> bool:
    """Whether a value is, or carries, a credential (see the module docstring)."""
    return (
        bool(kind_providers(value_kind(value)))
        or bool(_embedded_key().search(value))
        or bool(tables().credential_shapes.search(value))
        or bool(URL_USERINFO.search(value))
        or bool(ASSIGNED_SECRET.search(value))
    )


def check_exposable(name: str, value: str | None = None, secret_names: Collection[str] = ()) -> None:
    """Raise `ProviderError` when ``name`` may not be exposed: declared secret (``secret_names``),
    named like a credential, or (when given) its ``value`` holds one. The message names the
    variable, never the value."""
    if name in secret_names or looks_secret(name) or (value is not None and holds_credential(value)):
        raise ProviderError(f"refusing to expose secret variable {name}")


def value_kind(value: str) -> str:
    """The shape of a value (``openai_key``, ``url``, …); the value itself is not kept."""
    stripped = value.strip()
    if not stripped:
        return "empty"
    for kind, prefixes, _ in tables().key_kinds:  # first match wins: sk-ant- before sk-
        if stripped.startswith(prefixes):
            return kind
    return "url" if URL.match(stripped) else "other"


def kind_providers(kind: str) -> list[str]:
    """The providers that issue keys of a kind (``[]`` for ``url``, ``other``, …)."""
    return next((list(providers) for k, _, providers in tables().key_kinds if k == kind), [])


@functools.lru_cache(maxsize=1)
def _embedded_key() -> re.Pattern[str]:
    """A key anywhere in a value ("Bearer sk-ant-…", "token=hf_…") is still a key."""
    prefixes = "|".join(re.escape(p) for p in tables().credential_prefixes)
    return re.compile(rf"(?:^|[^A-Za-z0-9])(?:{prefixes})[A-Za-z0-9]")
