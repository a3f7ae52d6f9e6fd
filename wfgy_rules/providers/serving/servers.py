"""Is this container a model server, and which? Decided by what it runs, never by a name.

`recognise(command, args, image, environ)` reads a container the way its runtime starts it:
``command`` + ``args`` when the container gives a command; else the image's own ENTRYPOINT
(with ``args``, or the image's CMD) when the image is one of the serving images in
``servers.yaml``; else ``args`` alone, as an exec-style entrypoint runs them. The program
that command really starts is found by the launch walk (`launch_command.find_launch`:
through ``sh -c``, ``env``, ``exec``, ``python -m``, ``torchrun``, ``mpirun``,
``wfgy-rules preflight --``), then looked up:

* an engine of ``engines.yaml`` (vLLM, SGLang, TGI, llama.cpp's server): the launch is
  parsed by `launch.parse_launch` (tensor parallel size, max_model_len, …);
* a server of ``servers.yaml`` (Ollama, Triton, TF Serving, TorchServe, KServe's model
  servers, NIM, JetStream, KAITO's servers): recognised, with no launch facts, except where
  it takes another engine's words (KAITO's vLLM wrapper is read as vLLM's api_server).

Anything else is not a server, whatever its image or arguments mention: a benchmark client
in a vLLM image (``genai-perf``, ``sleep infinity``), a router (``python -m vllm_router.app``),
an endpoint picker whose flags name a vLLM pool. The result says why, either way::

    {"serving": {"engine": "vllm", "via": "image-entrypoint", "launch_via": "vllm serve",
                 "launch": {...parse_launch...}},
     "reason": "no command: the image's ENTRYPOINT (vllm serve) starts vllm"}
    {"serving": None, "reason": "the command runs sleep, which starts no model server"}

Reasons name programs, never argument values.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfgy_rules.documents.yamlio import load_file
from wfgy_rules.providers.serving.launch import parse_launch
from wfgy_rules.providers.serving.launch_command import find_launch

TABLE_PATH = Path(__file__).with_name("servers.yaml")
REGISTRY_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/")


@dataclass(frozen=True)
class ServerLaunch:
    server: str
    via: str
    executable: str | None
    module: str | None
    subcommand: str | None
    flag: str | None
    parse_as: tuple[str, ...]
    source: str

    def matches(self, kind: str, word: str, rest: list[str]) -> bool:
        if kind == "module":
            named = self.module == word
        elif self.executable is None:
            named = False
        elif "/" in self.executable:
            named = word == self.executable or word.endswith("/" + self.executable.lstrip("/"))
        else:
            named = word.rsplit("/", 1)[-1] == self.executable
        if not named or (self.subcommand is not None and rest[:1] != [self.subcommand]):
            return False
        return self.flag is None or any(w == self.flag or w.startswith(self.flag + "=") for w in rest)


@dataclass(frozen=True)
class Image:
    image: str
    tags: tuple[str, ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    source: str

    def matches(self, repository: str, tag: str) -> bool:
        named = fnmatch.fnmatchcase(repository, self.image) if self.image.endswith("*") else repository == self.image
        return named and (not self.tags or any(fnmatch.fnmatchcase(tag, t) for t in self.tags))


@dataclass(frozen=True)
class KServeRuntime:
    formats: tuple[str, ...]
    runtime: str
    command: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Tables:
    launches: tuple[ServerLaunch, ...]
    ray_nodes: tuple[ServerLaunch, ...]
    images: tuple[Image, ...]
    kserve: tuple[KServeRuntime, ...]


@functools.lru_cache(maxsize=1)
def tables() -> Tables:
    """``servers.yaml``, read once (a broken file is a packaging bug: it raises)."""
    data = load_file(TABLE_PATH).data
    launches = tuple(_launch(entry["server"], row) for entry in data["servers"] for row in entry["launches"])
    ray_nodes = tuple(_launch("ray", row) for row in data["ray_nodes"])
    for launch in (*launches, *ray_nodes):
        if not (launch.executable or launch.module) or not launch.source:
            raise ValueError(f"{TABLE_PATH.name}: {launch.server} {launch.via}: needs an executable or module, and a source")
    images = tuple(Image(r["image"], tuple(r.get("tags", ())), tuple(r["entrypoint"]), tuple(r.get("cmd", ())), r["source"])
                   for r in data["images"])
    kserve = tuple(KServeRuntime(tuple(r["formats"]), r["runtime"], tuple(r["command"]), r["source"]) for r in data["kserve"])
    return Tables(launches, ray_nodes, images, kserve)


def _launch(server: str, row: Mapping[str, Any]) -> ServerLaunch:
    return ServerLaunch(server, row["via"], row.get("executable"), row.get("module"), row.get("subcommand"),
                        row.get("flag"), tuple(row.get("parse_as", ())), row["source"])


def kserve_runtimes() -> tuple[KServeRuntime, ...]:
    """KServe's own ClusterServingRuntimes and what they run."""
    return tables().kserve


def kserve_runtime(model_format: str) -> KServeRuntime | None:
    """The runtime KServe picks for a model format when the InferenceService names none."""
    return next((r for r in tables().kserve if model_format.lower() in r.formats), None)


def image_entrypoint(image: str | None) -> Image | None:
    """The serving image row of ``image`` (``vllm/vllm-openai:v0.8.5``), if it is one."""
    if not isinstance(image, str) or not image:
        return None
    repository, tag = _split_image(image)
    return next((row for row in tables().images if row.matches(repository, tag)), None)


def starts_ray_node(argv: Sequence[str], environ: Mapping[str, str]) -> bool:
    """Whether the command also makes its pod a Ray node (``ray start``, vLLM's
    multi-node-serving.sh): a launch beside it may span the cluster's pods."""
    def ray(kind: str, word: str, rest: list[str], env: dict[str, str]) -> bool | None:
        return True if any(row.matches(kind, word, rest) for row in tables().ray_nodes) else None

    return bool(argv) and find_launch(list(argv), environ, ray) is True


def recognise(command: Sequence[str] | None, args: Sequence[str] | None, image: str | None,
              environ: Mapping[str, str], implied: tuple[Sequence[str], str] | None = None) -> dict[str, Any]:
    """``{"serving": {...} | None, "reason": "..."}`` for one container (see the module
    docstring). ``implied`` is (the command, how it is known) that runs when the container
    gives none, where something other than the image says so (a KServe runtime)."""
    command, args = list(command or []), list(args or [])
    if command:
        return _identify([*command, *args], environ, "command", "the command")
    if implied is not None:
        prefix, via = implied
        return _identify([*prefix, *args], environ, via, f"the {via} command ({' '.join(prefix)})")
    row = image_entrypoint(image)
    if row is not None:
        argv = [*row.entrypoint, *(args if args else row.cmd)]
        return _identify(argv, environ, "image-entrypoint", f"no command: the image's ENTRYPOINT ({' '.join(row.entrypoint)})")
    if args and not args[0].startswith("-"):
        return _identify(args, environ, "args", "the args (run by the image's entrypoint, which is not in the table)")
    if args:
        return {"serving": None, "reason": "no command, the args are options, and the image is not one whose ENTRYPOINT is known to start a model server"}
    return {"serving": None, "reason": "no command, and the image is not one whose ENTRYPOINT is known to start a model server"}


def _identify(argv: list[str], environ: Mapping[str, str], via: str, what: str) -> dict[str, Any]:
    launch = parse_launch(argv, environ)
    if launch["engine"] is not None:
        serving = {"engine": launch["engine"], "via": via, "launch_via": launch["via"], "launch": launch}
        return {"serving": serving, "reason": f"{what} starts {launch['engine']} ({launch['via']})"}
    found = find_launch(argv, environ, _server_launch)
    if found is None:
        return {"serving": None, "reason": f"{what} {_runs(argv)}, which starts no model server"}
    server, rest, env = found
    parsed = parse_launch([*server.parse_as, *rest], env) if server.parse_as else None
    serving = {"engine": server.server, "via": via, "launch_via": server.via, "launch": parsed if parsed and parsed["engine"] else None}
    return {"serving": serving, "reason": f"{what} starts {server.server} ({server.via})"}


def _server_launch(kind: str, word: str, rest: list[str], env: dict[str, str]) -> tuple[ServerLaunch, list[str], dict[str, str]] | None:
    for launch in tables().launches:
        if launch.matches(kind, word, rest):
            return launch, rest[1:] if launch.subcommand else rest, env
    return None


def _runs(argv: list[str]) -> str:
    """What a command runs, by program name only (never an argument)."""
    program = argv[0].rsplit("/", 1)[-1] if argv else ""
    if program in ("sh", "bash", "dash", "ash", "zsh", "ksh"):
        return "runs a shell script"
    return f"runs {program}" if program else "runs nothing"


def _split_image(image: str) -> tuple[str, str]:
    """(repository without registry defaults, tag) of an image reference; the digest dropped."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    repository, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, "latest")
    for prefix in REGISTRY_PREFIXES:
        if repository.startswith(prefix):
            repository = repository[len(prefix):]
            break
    return repository, tag
