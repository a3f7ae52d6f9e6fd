"""The ``kubernetes`` pack on the corpus of real LLM-serving manifests (tests/corpus/kubernetes/,
see its README): what ``wfgy-rules eval`` reports against the verdicts written by hand in
``expected.yaml``. A false alarm on a real manifest fails this test; so does a planted fault
that is not caught at its file and line; and the webhook must judge every object with a pod
template as ``eval`` does.

Files are judged in a few ``eval`` runs rather than one per file: files that share a Secret or
ServingRuntime name would see each other's, so a run only takes files that share none
(`groups` asserts it), which makes each file's results those it gets alone."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import REPO, run_cli
from wfgy_rules.documents.yamlio import load_stream
from wfgy_rules.errors import PolicyError
from wfgy_rules.providers.kubernetes.pod_templates import kind_read
from wfgy_rules.webhook.review import Reviewer

CORPUS = REPO / "tests" / "corpus" / "kubernetes"
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text())
CORPUS_CONFIG = {"env": {"declared": [{"name": "HF_TOKEN", "secret": True, "required": False}]},
                 "kubernetes": {"required_secrets": ["HF_TOKEN"]}}
MIN_PRECISION = 0.95
Finding = tuple[str, str, int]  # rule id, file (relative to the corpus), line


def objects(file: str) -> list[dict[str, Any]]:
    """The objects of a corpus file as the provider reads them ([] when it does not parse)."""
    try:
        return [d.data for d in load_stream((CORPUS / file).read_text(), file) if isinstance(d.data, dict)]
    except PolicyError:
        return []


def names(file: str) -> tuple[set[str], set[str]]:
    """(Secret and ServingRuntime names a file declares, those it refers to)."""
    declared, used = set(), set()

    def refer(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                refer(item)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if key in ("secretKeyRef", "secretRef", "secret") and isinstance(inner, dict):
                    used.add(str(inner.get("name") or inner.get("secretName")))
                elif key == "runtime" and isinstance(inner, str):
                    used.add(inner)
                refer(inner)

    for obj in objects(file):
        if obj.get("kind") in ("Secret", "ServingRuntime", "ClusterServingRuntime"):
            declared.add(str((obj.get("metadata") or {}).get("name")))
        refer(obj)
    return declared, used


def groups(entries: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Entries split so that no file of a group declares a name another file of it uses or
    declares; an entry with its own config is a group of its own."""
    found: list[tuple[list[dict[str, Any]], set[str], set[str]]] = []
    for entry in entries:
        declared, used = names(entry["file"])
        home = None if entry.get("config") else next(
            (g for g in found if not g[0][0].get("config") and not (declared & (g[1] | g[2])) and not (used & g[1])), None)
        if home is None:
            found.append(([entry], set(declared), set(used)))
        else:
            home[0].append(entry)
            home[1].update(declared)
            home[2].update(used)
    return [g[0] for g in found]


def config_for(files: list[str], providers: dict[str, Any] | None, secrets: dict[str, list[str]] | None = None) -> dict[str, Any]:
    providers = json.loads(json.dumps(providers or CORPUS_CONFIG))
    for section in providers.values():
        for key in ("path", "model_dir"):
            if isinstance(section.get(key), str):
                section[key] = str(CORPUS / section[key])
    kubernetes = providers.setdefault("kubernetes", {})
    kubernetes["paths"] = [str(CORPUS / f) for f in files]
    if secrets:
        kubernetes["secrets"] = secrets
    return {"apiVersion": "wfgy-rules/v1", "kind": "Config", "policies": ["builtin:kubernetes"], "providers": providers}


def evaluate(entries: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    """Every result of ``wfgy-rules eval`` over the entries' files, run in groups."""
    results = []
    for index, group in enumerate(groups(entries)):
        config = tmp / f"wfgy-{index}.yaml"
        config.write_text(yaml.safe_dump(config_for([e["file"] for e in group], group[0].get("config", {}).get("providers"))))
        done = run_cli("eval", "--config", str(config), "-f", "json", cwd=tmp, timeout=300)
        assert done.returncode in (0, 1), done.stdout + done.stderr
        results += json.loads(done.stdout)["results"]
    return results


def findings(results: list[dict[str, Any]]) -> Counter[Finding]:
    """Each failing result (info rules included) as (rule, corpus file, line)."""
    return Counter((r["rule_id"], str(Path(r["location"]["path"]).relative_to(CORPUS)), r["location"]["line"])
                   for r in results if r["status"] == "fail")


def expected(entries: list[dict[str, Any]]) -> Counter[Finding]:
    return Counter((f["rule"], e["file"], f["line"]) for e in entries for f in e.get("findings") or [])


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> list[dict[str, Any]]:
    return evaluate(EXPECTED["real"], tmp_path_factory.mktemp("real"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> list[dict[str, Any]]:
    return evaluate(EXPECTED["planted"], tmp_path_factory.mktemp("planted"))


def test_the_corpus_is_what_its_readme_says():
    repositories = {Path(e["file"]).parts[1] for e in EXPECTED["real"]}
    assert len(EXPECTED["real"]) >= 60 and len(repositories) >= 8
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("real/**/*.yaml")}
    assert on_disk == {e["file"] for e in EXPECTED["real"]}


def test_no_false_alarm_on_real_manifests(real):
    assert [r["message"] for r in real if r["status"] == "error"] == []
    got, want = findings(real), expected(EXPECTED["real"])
    true = sum((got & want).values())
    false_alarms = sorted((got - want).elements())
    precision = true / max(1, sum(got.values()))
    assert precision >= MIN_PRECISION, f"precision {precision:.1%}; false alarms: {false_alarms}"
    assert sum(got.values()) >= 100  # the pack judges the corpus, not nothing


def test_no_container_the_corpus_calls_a_client_router_or_ui_is_taken_for_a_server(tmp_path):
    """Benchmark clients in server images, the vLLM router, the endpoint picker, web UIs, Ray
    heads: each container ``expected.yaml`` marks ``server: null`` is no server in the facts."""
    ours: dict[tuple[str, str, str, str], list[Any]] = {}
    for index, group in enumerate(groups(EXPECTED["real"])):
        config = tmp_path / f"facts-{index}.yaml"
        config.write_text(yaml.safe_dump(config_for([e["file"] for e in group], None)))
        done = run_cli("facts", "--config", str(config), "--provider", "kubernetes", cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        for w in json.loads(done.stdout)["kubernetes"]["workloads"]:
            for c in w["containers"]:
                key = (str(Path(w["path"]).relative_to(CORPUS)), w["kind"], w["name"], c["name"])
                ours.setdefault(key, []).append(c["serving"])
    clients = [(e["file"], *w["object"].split("/", 1), c["name"]) for e in EXPECTED["real"] for w in e.get("workloads") or []
               for c in w.get("containers") or [] if c.get("server") is None]
    judged = [key for key in clients if key in ours]
    assert len(judged) >= 20
    assert [key for key in judged if any(ours[key]) and all(ours[key])] == []


def test_every_planted_fault_is_caught_at_its_file_and_line(planted):
    got = findings(planted)
    missed = [(e["file"], e["fault"]) for e in EXPECTED["planted"] if got[(e["fault"]["rule"], e["file"], e["fault"]["line"])] == 0]
    assert missed == []
    false_alarms = sorted((got - expected(EXPECTED["planted"])).elements())
    assert false_alarms == []


def test_the_webhook_judges_every_pod_template_as_eval_does(real, tmp_path):
    """The object alone, as the API server sends it; the Secrets of its file are known to the
    webhook through providers.kubernetes.secrets, as Secrets made elsewhere are."""
    by_file: dict[str, list[tuple[str, str]]] = {}
    for r in real:
        if r["status"] == "fail" and r["rule_id"] not in ("k8s.manifests-readable", "k8s.kind-not-read"):
            by_file.setdefault(str(Path(r["location"]["path"]).relative_to(CORPUS)), []).append((r["rule_id"], r["message"]))
    reviewers: dict[str, Reviewer] = {}
    judged = 0
    for entry in EXPECTED["real"]:
        found = objects(entry["file"])
        secrets = {str(o["metadata"]["name"]): sorted({*(o.get("data") or {}), *(o.get("stringData") or {})}) for o in found if o.get("kind") == "Secret"}
        key = json.dumps(secrets, sort_keys=True)
        if key not in reviewers:
            config = tmp_path / f"webhook-{len(reviewers)}.yaml"
            config.write_text(yaml.safe_dump(config_for([], None, secrets)))
            reviewers[key] = Reviewer(str(config))
        for obj in found:
            if obj.get("kind") == "Secret" or kind_read(obj) != "workload":
                continue
            label = f"{str(obj['kind']).lower()}/{obj['metadata']['name']}"
            webhook = sorted((r.rule_id, r.message) for r in reviewers[key].judge(obj, label) if r.status.failing and r.rule_id != "k8s.kind-not-read")
            ours = sorted(f for f in by_file.get(entry["file"], []) if _about(f[1], label))
            assert webhook == ours, entry["file"]
            judged += 1
    assert judged >= 60


def _about(message: str, label: str) -> bool:
    return any(message.startswith(label + end) for end in (":", " ", " ("))
