"""What a signed verdict binds, and what ``verify-attestation`` accepts as a pass.

A verdict records the stage, the selection (``--only``, ``--skip``, rules disabled in the
config) and every rule it judged with that rule's verdict, so ``eval --skip '*'`` on a
failing project cannot pass for the full run: ``--require-pass`` refuses a verdict that
judged no rule and one narrowed by ``--only``/``--skip`` (unless ``--allow-selection``), and
the verifier can pin the policy digest and the stage. Subjects name what was really read;
what the payload carries is shown escaped; envelopes and payloads with duplicate keys or
absurd nesting are not verified (exit 1, never a traceback)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

from tests.helpers import REPLICAS_RULE, TEAM_CONFIG, TEAM_POLICY, run_cli, write_project
from tests.security.test_attestations import payload_of, write_keys
from wfgy_rules.attest.dsse import PAYLOAD_TYPE
from wfgy_rules.attest.keys import key_id

# team.max-len fails (8192 > 4096) and is a deploy rule; team.replicas passes in every stage.
POLICY = TEAM_POLICY.replace("    facts: [file]\n", "    facts: [file]\n    stage: deploy\n", 1) + REPLICAS_RULE
FAILING = "max_model_len: 8192\nreplicas: 3\n"


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return write_project(root, serving=FAILING, policy=POLICY)


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path, object]:
    return write_keys(tmp_path, "ed25519")


def attest(root: Path, pem: Path, name: str, *args: str) -> Path:
    out = root.parent / name
    done = run_cli("eval", *args, "--attest", str(out), "--sign-key", str(pem), cwd=root)
    assert done.returncode in (0, 1) and out.is_file(), done.stderr
    return out


def verify(path: Path, pub: Path, *args: str):
    done = run_cli("verify-attestation", str(path), "--key", str(pub), *args)
    assert "Traceback" not in done.stderr
    return done


def signed(private, payload: bytes) -> str:
    """An envelope over ``payload`` signed by securesystemslib (not by the code under test)."""
    envelope = Envelope(payload, PAYLOAD_TYPE, {})
    envelope.sign(CryptoSigner(private, SSlibKey.from_crypto(private.public_key(), keyid=key_id(private.public_key()))))
    return json.dumps(envelope.to_dict())


def test_the_full_run_records_stage_selection_and_every_rule_judged(failing, keys):
    pem, pub, _ = keys
    out = attest(failing, pem, "full.json")
    predicate = payload_of(out)["predicate"]
    assert predicate["outcome"] == "fail" and predicate["stage"] == "all"
    assert predicate["selection"] == {"only": [], "skip": [], "disabled": []}
    assert predicate["judged"] == {"team.max-len": "fail", "team.replicas": "pass"}
    done = verify(out, pub)
    assert done.returncode == 0
    assert "; stage all; judged 2 rules (1 fail, 1 pass); selection: every rule;" in done.stdout


def judging_nothing(root: Path, pem: Path, name: str, *args: str) -> Path:
    """``eval --attest`` of a run that judges no rule: exit 2, and nothing is signed."""
    out = root.parent / name
    done = run_cli("eval", *args, "--attest", str(out), "--sign-key", str(pem), cwd=root)
    assert done.returncode == 2 and "error: nothing was judged" in done.stderr, done.stderr
    assert not out.exists()
    return out


def no_rule_judged(root: Path, pem: Path, private, skip: list[str]) -> Path:
    """A genuine verdict re-signed as a pass that judged no rule, as a wfgy-rules that signed
    such runs wrote them."""
    statement = payload_of(attest(root, pem, "judged.json"))
    statement["predicate"].update(outcome="pass", judged={}, failing=[])
    statement["predicate"]["selection"]["skip"] = skip
    path = root.parent / "no-rule.json"
    path.write_text(signed(private, json.dumps(statement).encode()))
    return path


def test_skipping_every_rule_signs_nothing_and_a_verdict_of_no_rule_is_refused(failing, keys):
    pem, pub, private = keys
    judging_nothing(failing, pem, "skipped.json", "--skip", "*")
    out = no_rule_judged(failing, pem, private, ["*"])
    assert verify(out, pub).returncode == 0  # genuine: the signature holds
    for extra in ([], ["--allow-selection"]):
        done = verify(out, pub, "--require-pass", *extra)
        assert done.returncode == 1
        assert f"not accepted: {out}: the verdict judged no rule" in done.stderr


def test_a_run_narrowed_by_only_or_skip_needs_allow_selection(failing, keys):
    pem, pub, _ = keys
    for name, args in (("only.json", ["--only", "team.replicas"]), ("skip.json", ["--skip", "team.max-*"])):
        out = attest(failing, pem, name, *args)
        predicate = payload_of(out)["predicate"]
        assert (predicate["outcome"], predicate["judged"]) == ("pass", {"team.replicas": "pass"})
        done = verify(out, pub, "--require-pass")
        assert done.returncode == 1, name
        assert f"not accepted: {out}: the run was narrowed by {' '.join(args)}" in done.stderr
        assert "--allow-selection" in done.stderr
        assert verify(out, pub, "--require-pass", "--allow-selection").returncode == 0


def test_rules_disabled_in_the_config_are_recorded_and_a_run_of_none_is_refused(failing, keys):
    pem, pub, _ = keys
    config = failing / "wfgy.yaml"
    config.write_text(TEAM_CONFIG + "rules:\n  team.max-len: {enabled: false}\n")
    out = attest(failing, pem, "disabled.json")
    predicate = payload_of(out)["predicate"]
    assert predicate["selection"]["disabled"] == ["team.max-len"]
    assert predicate["judged"] == {"team.replicas": "pass"}
    done = verify(out, pub, "--require-pass")
    assert done.returncode == 0 and "selection: disabled team.max-len;" in done.stdout

    config.write_text(TEAM_CONFIG + "rules:\n  team.max-len: {enabled: false}\n  team.replicas: {enabled: false}\n")
    judging_nothing(failing, pem, "none.json")  # every rule disabled: skipped, so no verdict


def test_the_verifier_pins_the_stage_and_the_policy_digest(failing, keys):
    pem, pub, _ = keys
    full = payload_of(attest(failing, pem, "full.json"))["predicate"]
    out = attest(failing, pem, "ci.json", "--stage", "ci")
    predicate = payload_of(out)["predicate"]
    assert (predicate["stage"], predicate["outcome"], predicate["judged"]) == ("ci", "pass", {"team.replicas": "pass"})
    assert predicate["policy_digest"] == full["policy_digest"]

    assert verify(out, pub, "--require-pass", "--stage", "ci").returncode == 0
    done = verify(out, pub, "--require-pass", "--stage", "all")
    assert done.returncode == 1 and f"not accepted: {out}: the verdict is of stage ci, --stage wants all" in done.stderr
    assert verify(out, pub, "--policy-digest", full["policy_digest"]).returncode == 0
    other = "sha256:" + "0" * 64
    done = verify(out, pub, "--policy-digest", other)
    assert done.returncode == 1 and f"the policy digest is {full['policy_digest']}, --policy-digest wants {other}" in done.stderr

    for args, line in ((["--stage", "prod"], "--stage 'prod' is not one of: ci, deploy, all"),
                       (["--policy-digest", "abc"], "--policy-digest 'abc': expected sha256: and 64 lowercase hex digits"),
                       (["--allow-selection"], "--allow-selection goes with --require-pass")):
        done = verify(out, pub, *args)
        assert done.returncode == 2 and line in done.stderr, (args, done.stderr)


def test_a_statement_without_what_it_judged_is_not_a_verdict(tmp_path, keys):
    """Statements written before the predicate recorded stage, selection and rules judged."""
    _, pub, private = keys
    statement = {"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "app", "digest": {"sha256": "ab" * 32}}],
                 "predicateType": "https://wfgy-rules.dev/attestation/verdict/v1",
                 "predicate": {"outcome": "pass", "forced": False, "policy_digest": "sha256:x", "facts_digest": "sha256:y",
                               "failing": [], "waived": []}}
    path = tmp_path / "old.json"
    path.write_text(signed(private, json.dumps(statement).encode()))
    done = verify(path, pub, "--require-pass")
    assert done.returncode == 1
    assert "not a wfgy-rules verdict statement: predicate.stage must be one of ci, deploy, all; " \
           "predicate.selection must be an object; predicate.judged must be an object" in done.stderr


def test_subjects_name_the_bundle_read_never_a_digest_it_claims(failing, tmp_path):
    claimed = "ab" * 32
    bundle = tmp_path / "facts.json"
    bundle.write_text(json.dumps({"file": {"serving": {"max_model_len": 2048, "replicas": 3}},
                                  "runtime": {"model_dir": {"path": "model", "tokenizer": {"sha256": claimed}}}}))
    own = hashlib.sha256(bundle.read_bytes()).hexdigest()
    for command in ("eval", "preflight"):
        out = tmp_path / f"{command}.json"
        done = run_cli(command, "--facts", str(bundle), "--attest", str(out), "--stage", "all", cwd=failing)
        assert done.returncode == 0, done.stderr
        statement = json.loads(out.read_text())
        assert statement["subject"] == [{"name": "facts.json", "digest": {"sha256": own}}], command
        assert claimed not in out.read_text()

    fleet = tmp_path / "fleet"
    fleet.mkdir()
    (fleet / "a.json").write_bytes(bundle.read_bytes())
    out = tmp_path / "fleet.json"
    assert run_cli("eval", "--facts", str(fleet), "--attest", str(out), "--jobs", "1", cwd=failing).returncode == 0
    statement = json.loads(out.read_text())
    (subject,) = statement["subject"]
    assert subject["name"] == "fleet" and "sha256:" + subject["digest"]["sha256"] == statement["predicate"]["facts_digest"]
    assert "fleet's facts digest" in subject["annotations"]["wfgy-rules/digest"] and claimed not in out.read_text()


def test_what_the_payload_says_is_shown_escaped(tmp_path, keys):
    _, pub, private = keys
    forged_line = "\x1b[2K\rverified: x: signed by key 0; verdict pass"
    statement = {"_type": "https://in-toto.io/Statement/v1",
                 "subject": [{"name": "app" + forged_line, "digest": {"sha256": "ab" * 32}}],
                 "predicateType": "https://wfgy-rules.dev/attestation/verdict/v1",
                 "predicate": {"outcome": "fail", "forced": False, "policy_digest": "sha256:\u2028x", "facts_digest": "sha256:y",
                               "stage": "all", "selection": {"only": ["a\nb"], "skip": [], "disabled": ["c\x07"]},
                               "judged": {"team.x\nverified: y": "fail"}, "failing": ["team.x\nverified: y"], "waived": []}}
    path = tmp_path / "escapes.json"
    path.write_text(signed(private, json.dumps(statement).encode()))
    done = verify(path, pub)
    assert done.returncode == 0, done.stderr
    shown = done.stdout + done.stderr
    assert not any(ord(c) < 0x20 and c != "\n" or 0x7f <= ord(c) <= 0x9f or c == "\u2028" for c in shown)
    lines = done.stdout.splitlines()
    assert [line for line in lines if line.startswith("verified")] == [lines[0]]
    assert "app\\x1b[2K\\rverified: x" in lines[0] and "team.x\\nverified: y" in done.stdout
    assert "sha256:\\u2028x" in lines[0] and "only a\\nb" in lines[0] and "disabled c\\x07" in lines[0]


def test_an_envelope_with_duplicate_keys_is_not_verified(failing, keys):
    pem, pub, private = keys
    out = attest(failing, pem, "genuine.json")
    envelope = json.loads(out.read_text())
    statement = payload_of(out)
    statement["predicate"]["outcome"] = "pass"
    forged = base64.b64encode(json.dumps(statement).encode()).decode()
    text = out.read_text().replace('"payload": ', f'"payload": "{forged}",\n  "payload": ', 1)
    assert json.loads(text)["payload"] == envelope["payload"]  # a last-key-wins reader sees the genuine one
    doubled = out.parent / "doubled.json"
    doubled.write_text(text)
    done = verify(doubled, pub)
    assert done.returncode == 1 and done.stderr.startswith(f"not verified: {doubled}: duplicate key 'payload'")

    # a signed payload with two predicates is refused too, whichever one a reader keeps
    genuine = json.dumps(payload_of(out))
    twice = genuine[:-1] + ', "predicate": ' + json.dumps(statement["predicate"]) + "}"
    path = out.parent / "twice.json"
    path.write_text(signed(private, twice.encode()))
    done = verify(path, pub)
    assert done.returncode == 1 and "the signed payload is not JSON: duplicate key 'predicate'" in done.stderr


@pytest.mark.parametrize("depth", [600, 200_000])
def test_deeply_nested_json_is_not_verified(tmp_path, keys, depth):
    _, pub, private = keys
    nested = "[" * depth + "]" * depth
    envelope = tmp_path / "nested-envelope.json"
    envelope.write_text('{"payload": ' + nested + "}")
    done = verify(envelope, pub)
    assert done.returncode == 1 and done.stderr == f"not verified: {envelope}: JSON nested deeper than 512 levels\n"
    payload = tmp_path / "nested-payload.json"
    payload.write_text(signed(private, ('{"subject": ' + nested + "}").encode()))
    done = verify(payload, pub)
    assert done.returncode == 1
    assert done.stderr == f"not verified: {payload}: the signed payload is not JSON: JSON nested deeper than 512 levels\n"


def test_the_verdict_binds_the_settings_it_was_judged_with(failing, keys):
    """A waiver or a lower --fail-on turns a failing run into a pass; the settings' digest
    says the two verdicts were not judged alike (and the same settings give the same one)."""
    pem = keys[0]
    first = payload_of(attest(failing, pem, "first.json"))["predicate"]["config_digest"]
    again = payload_of(attest(failing, pem, "again.json"))["predicate"]["config_digest"]
    (failing / "wfgy.yaml").write_text(TEAM_CONFIG + "fail_on: critical\n")
    lenient = payload_of(attest(failing, pem, "lenient.json"))["predicate"]
    assert first == again and first.startswith("sha256:")
    assert lenient["config_digest"] != first and lenient["outcome"] == "pass"
