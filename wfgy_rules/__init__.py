"""wfgy-rules: a pre-flight gate for LLM / ML deployments.

Declarative YAML policies compare the *declared* runtime (model card, declared env and
secrets, prompt variables) with the *effective* runtime (installed packages, tokenizer
files, environment, NVML, mounted secrets, prompt files) before a service takes traffic.
"""

__version__ = "0.1.0"
