"""The ``wfgy-rules`` command line: parse options, call a command, map the result to an exit
code. No logic lives here; every command is a plain function in `wfgy_rules.commands`.

Exit codes: 0 passed (or forced) · 1 the run failed · 2 invalid input (usage, config,
policy, facts file) · 3 internal error · 130 interrupted (SIGINT) · 143 terminated (SIGTERM).
No traceback for 1, 2, 130 and 143.

SIGTERM (what Kubernetes and CI cancellation send) ends a run the way Ctrl-C does: the
signal unwinds the command (nothing is half-written, worker processes are terminated at
exit), ``terminated`` goes to stderr, and the exit code is 143 (128 + 15, what a shell
reports for a process killed by SIGTERM).
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Annotated, Optional

import typer

from wfgy_rules.exit_codes import SUMMARY as EXIT_CODES
from wfgy_rules.exit_codes import ExitCode
from wfgy_rules.reporters import FORMATS

app = typer.Typer(
    name="wfgy-rules",
    help="Pre-flight gate for LLM / ML deployments: YAML guards that compare the declared runtime "
    "(model card, declared env and secrets, prompt variables) with the effective one.",
    epilog=EXIT_CODES,
    add_completion=True,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[Optional[str], typer.Option("--config", "-c", help="Project config (default: the nearest wfgy.yaml, from here up to the repository root).")]
PolicyOpt = Annotated[Optional[list[str]], typer.Option("--policy", "-p", help="Policy file or directory, or 'builtin' (repeatable; replaces the config's policies).")]
FactsOpt = Annotated[Optional[str], typer.Option("--facts", help="Judge a facts.json written by 'wfgy-rules facts' (or a directory of them) instead of gathering.")]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help=f"Report format: {', '.join(FORMATS)}. With --facts DIR, jsonl is written as bundles are judged, in flat memory; the other formats hold the whole run in memory and are written at the end.")]
OutputOpt = Annotated[Optional[str], typer.Option("--output", "-o", help="Write the report to this file (atomically) instead of stdout.")]
ReportOpt = Annotated[Optional[list[str]], typer.Option("--report", help="Also write FORMAT=FILE from the same run (repeatable), e.g. json=report.json.")]
FailOnOpt = Annotated[Optional[str], typer.Option("--fail-on", help="Lowest severity that fails the run: info, low, medium, high, critical (info never fails).")]
OnlyOpt = Annotated[Optional[list[str]], typer.Option("--only", help="Run only rules whose id matches this glob (repeatable).")]
SkipOpt = Annotated[Optional[list[str]], typer.Option("--skip", help="Leave out rules whose id matches this glob (repeatable).")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Exit 0 even when the run fails; the report records forced: true and what was overridden.")]
ColorOpt = Annotated[str, typer.Option("--color", metavar="auto|always|never", help="Colour the text report: auto (a terminal whose TERM is not dumb; a non-empty NO_COLOR turns it off, FORCE_COLOR on), always, never.")]
RootOpt = Annotated[Optional[str], typer.Option("--root", metavar="DIR", help="Repository root that SARIF and GitHub annotation paths are relative to (default: the git top level, else the config's directory).")]
StageOpt = Annotated[Optional[str], typer.Option("--stage", help="Run the rules of this stage: ci (ci and any rules: what the repository shows), deploy (deploy and any rules: secrets, env, GPU too) or all.")]
AttestOpt = Annotated[Optional[str], typer.Option("--attest", metavar="FILE", help="Write an in-toto Statement (v1) of the verdict: what was judged, policy and facts digests, outcome, failing and waived rules.")]
SubjectOpt = Annotated[Optional[list[str]], typer.Option("--subject", metavar="NAME@sha256:HEX", help="With --attest: what was judged, e.g. the image digest (repeatable; default: the model card and the tokenizer fingerprint).")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Text report: list every rule, passed and skipped too, with the full evidence of each failure.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Text report: only what fails the run, and the verdict.")]
SignKeyOpt = Annotated[Optional[str], typer.Option("--sign-key", metavar="PEM", help="With --attest: sign the statement in a DSSE envelope with this ed25519 or ECDSA P-256 private key (needs the attest extra: pip install cryptography).")]
DefaultsOpt = Annotated[bool, typer.Option("--defaults", help="Read no wfgy.yaml: judge the built-in packs (or --policy) with default settings. Without it, a run that finds no wfgy.yaml and has no --policy exits 2 (write one with 'wfgy-rules init').")]


def _attest_options(attest: str | None, subject: list[str] | None, sign_key: str | None) -> dict:
    """``{"attest": AttestOptions(…)}`` when any attestation option was given, else ``{}``."""
    if attest is None and not subject and sign_key is None:
        return {}
    from wfgy_rules.attest.request import AttestOptions

    return {"attest": AttestOptions(attest, subject or [], sign_key)}


def _version(value: bool) -> None:
    if value:
        from wfgy_rules.version import describe

        typer.echo(f"wfgy-rules {describe()}")
        raise typer.Exit(0)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    """Pre-flight gate for LLM / ML deployments."""


@app.command("eval", epilog=EXIT_CODES)
def eval_command(config: ConfigOpt = None, policy: PolicyOpt = None, facts: FactsOpt = None, format: FormatOpt = "text",
                 output: OutputOpt = None, report: ReportOpt = None, fail_on: FailOnOpt = None, only: OnlyOpt = None,
                 skip: SkipOpt = None, force: ForceOpt = False,
                 color: ColorOpt = "auto", root: RootOpt = None,
                 stage: Annotated[Optional[str], typer.Option("--stage", help="ci (ci and any rules), deploy (deploy and any rules) or all (default: every rule).")] = None,
                 attest: AttestOpt = None, subject: SubjectOpt = None, sign_key: SignKeyOpt = None,
                 jobs: Annotated[Optional[int], typer.Option("--jobs", "-j", metavar="N", help="With --facts DIR: judge bundles in N worker processes (default: the CPUs this process may use); the report is the same byte for byte.")] = None,
                 shard: Annotated[Optional[str], typer.Option("--shard", metavar="I/N", help="With --facts DIR and --format jsonl: judge only shard I of N (I from 1; stable by bundle file name); combine the N reports with 'wfgy-rules merge'.")] = None,
                 defaults: DefaultsOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> int:
    """Gather facts, evaluate the policies, report, and exit 1 when a blocking rule fails (the CI gate)."""
    from wfgy_rules.commands import evaluate
    from wfgy_rules.reporters.text import verbosity
    from wfgy_rules.run.session import RunOptions

    options = RunOptions(config, policy or [], facts, format, output, report or [], fail_on, only or [], skip or [], force, stage=stage,
                         jobs=jobs, shard=shard, defaults=defaults, verbosity=verbosity(verbose, quiet))
    return evaluate.run(options, color=color, root=root, **_attest_options(attest, subject, sign_key))


PREFLIGHT_EPILOG = (
    "Exit codes: 0 passed (or forced), no CMD given · 1 the run failed, CMD not started · 2 invalid input · "
    "3 internal error · 126 CMD is not runnable · 127 CMD not found · 130 interrupted · 143 terminated (SIGTERM). "
    "Once CMD starts it replaces wfgy-rules, so its exit code is the process's."
)


@app.command("preflight", epilog=PREFLIGHT_EPILOG, context_settings={"allow_interspersed_args": False})
def preflight_command(command: Annotated[Optional[list[str]], typer.Argument(metavar="[-- CMD ARGS...]", help="The service to start when the run passes, e.g. -- python -m vllm.entrypoints.openai.api_server --model /models/llama.")] = None,
                      config: ConfigOpt = None, policy: PolicyOpt = None, facts: FactsOpt = None, format: FormatOpt = "text",
                      output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the report to this file (atomically) instead of stderr.")] = None,
                      report: ReportOpt = None, fail_on: FailOnOpt = None, only: OnlyOpt = None, skip: SkipOpt = None, force: ForceOpt = False,
                      stage: Annotated[Optional[str], typer.Option("--stage", help="deploy (default: deploy and any rules), ci (ci and any rules) or all.")] = None,
                      env_out: Annotated[Optional[str], typer.Option("--env-out", metavar="FILE", help="Write the fallback environment as NAME=\"value\" lines (for an app in another container: set -a; . FILE; set +a).")] = None,
                      color: ColorOpt = "auto", root: RootOpt = None,
                      attest: AttestOpt = None, subject: SubjectOpt = None, sign_key: SignKeyOpt = None,
                      defaults: DefaultsOpt = False, verbose: VerboseOpt = False, quiet: QuietOpt = False) -> int:
    """The deploy gate: eval with the remedies applied, then exec CMD with the remedied environment.

    \b
    remedy    when its rule fails or errors
    abort     the run fails; CMD is not started
    warn      reported only
    block     its facts are gathered again (every remedy.interval, 2s backing off
              to 10s) until it passes or remedy.timeout (default: secret_timeout,
              90s) runs out; then the run fails. Not waited for (the message says
              why) when nothing it reads can still arrive (the process environment,
              a secrets dir that is not mounted) or the run has already failed
    fallback  remedy.env (e.g. CUDA_VISIBLE_DEVICES="") is set for CMD and written
              to --env-out; each downgrade is logged on stderr

    CMD itself is judged too: when it launches a serving engine (vllm serve, python -m
    sglang.launch_server, text-generation-launcher, llama-server, through sh -c or an
    interpreter), the serving-fit pack checks its flags against the model it names and the
    GPUs this process sees (KV cache and weights vs memory, tensor parallel vs heads and
    GPUs, dtype/quantization vs compute capability, torch arch list, incomplete checkpoints)
    before the engine spends minutes loading: 'wfgy-rules facts --provider serving' shows
    what it read. A GPU-only engine is never started with its GPUs hidden.

    The report goes to stderr (stdout belongs to CMD). When the run fails, its reason is
    also written to /dev/termination-log (or $WFGY_TERMINATION_LOG) when that file exists,
    so 'kubectl describe pod' shows it. When it passes, CMD replaces wfgy-rules (exec): the
    same PID, signals reach the app directly, and the app's exit code is the container's.
    Everything after CMD (or after '--') belongs to CMD.
    """
    from wfgy_rules.commands import preflight
    from wfgy_rules.reporters.text import verbosity
    from wfgy_rules.run.session import RunOptions

    options = RunOptions(config, policy or [], facts, format, output, report or [], fail_on, only or [], skip or [], force)
    options.stage = stage
    options.defaults = defaults
    options.verbosity = verbosity(verbose, quiet)
    return preflight.run(options, env_out, command or [], color=color, root=root, **_attest_options(attest, subject, sign_key))


@app.command("facts", context_settings={"allow_interspersed_args": False}, epilog="Exit codes: 0 facts printed · 2 invalid input · 3 internal error.")
def facts_command(command: Annotated[Optional[list[str]], typer.Argument(metavar="[-- CMD ARGS...]", help="A serving launch for the serving provider to read, as preflight would (never started), e.g. -- vllm serve ./model --max-model-len 8192.")] = None,
                  config: ConfigOpt = None, provider: Annotated[Optional[list[str]], typer.Option("--provider", help="Gather only this provider (repeatable; default: every provider the policies need).")] = None,
                  output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write the bundle to this file (atomically) instead of stdout.")] = None,
                  policy: PolicyOpt = None, stage: StageOpt = None, only: OnlyOpt = None, skip: SkipOpt = None) -> int:
    """Print the fact bundle as JSON (never a secret value); judge it later with 'eval --facts'.

    Only what the selected rules read is gathered (--stage, --only, --skip). To judge an
    image in CI: docker run IMAGE wfgy-rules facts --stage deploy --only 'semvers.*' > facts.json,
    then wfgy-rules eval --facts facts.json --only 'semvers.*'. To see what the serving-fit
    pack reads of a launch: wfgy-rules facts --provider serving -- vllm serve ./model.
    """
    from wfgy_rules.commands import facts

    return facts.run(config, provider or [], output, policy or [], stage or "all", only or [], skip or [], command or None)


@app.command("validate", epilog="Exit codes: 0 every file is valid · 2 a file is invalid (FILE:LINE:COL errors on stderr).")
def validate_command(paths: Annotated[Optional[list[str]], typer.Argument(help="Policy, config, policy-test, prompt-vars or model-card files, or directories (their wfgy-rules files; default: the config and its policies).")] = None,
                     config: ConfigOpt = None,
                     ignore_unknown: Annotated[bool, typer.Option("--ignore-unknown", help="Leave out named files that are not wfgy-rules files (no apiVersion: wfgy-rules/...), as in a directory; for pre-commit.")] = False) -> int:
    """Validate files without gathering facts: the same loader 'eval' uses; a config with the policies, prompt variables and waived rules it names."""
    from wfgy_rules.commands import validate as command

    return command.run(paths or [], config, ignore_unknown)


@app.command("test", epilog="Exit codes: 0 every case passed · 1 a case failed (or, with --require-tests, a rule is uncovered) · 2 invalid test file.")
def test_command(paths: Annotated[Optional[list[str]], typer.Argument(help="Test files or directories (default: **/*.test.yaml and tests/policies/ under the config's directory, else the current one).")] = None,
                 require_tests: Annotated[bool, typer.Option("--require-tests", help="Fail when a rule under test has no case.")] = False,
                 config: ConfigOpt = None) -> int:
    """Run policy tests (kind: PolicyTest): facts in, expected statuses out; ends with 'N passed, M failed'."""
    from wfgy_rules.commands import test

    return test.run(paths or [], require_tests, config)


@app.command("list", epilog="Exit codes: 0 listed · 2 invalid input.")
def list_command(config: ConfigOpt = None, policy: PolicyOpt = None, format: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
                 stage: StageOpt = None) -> int:
    """Rule inventory for audits: id, policy, stage, file, sha256, severity, facts, action, owner, waivers."""
    from wfgy_rules.commands import inventory

    return inventory.run(config, policy or [], format, stage or "all")


@app.command("explain", epilog="Exit codes: 0 explained · 2 unknown rule or invalid input.")
def explain_command(rule_id: Annotated[str, typer.Argument(help="The rule to explain, e.g. semvers.tokenizer-sha.")], config: ConfigOpt = None,
                    policy: PolicyOpt = None, facts: FactsOpt = None) -> int:
    """Show a rule, its effective params, and a trace of its evaluation (over --facts, or facts gathered now)."""
    from wfgy_rules.commands import explain

    return explain.run(rule_id, config, policy or [], facts)


@app.command("lock", epilog="Exit codes: 0 written · 2 invalid input (bad model directory, a tokenizer that cannot be fingerprinted, unreadable card).")
def lock_command(config: ConfigOpt = None,
                 model_dir: Annotated[Optional[str], typer.Option("--model-dir", help="Hugging Face model directory (default: providers.runtime.model_dir).")] = None,
                 model: Annotated[Optional[str], typer.Option("--model", help="Model name to record (default: the existing card's).")] = None,
                 output: Annotated[Optional[str], typer.Option("--output", "-o", help="Card to write (default: providers.model_card.path, else model-card.json).")] = None,
                 requires_gpu: Annotated[Optional[bool], typer.Option("--requires-gpu/--no-requires-gpu", help="Record whether the model needs a GPU.")] = None,
                 min_gpu_memory_gib: Annotated[Optional[float], typer.Option("--min-gpu-memory-gib", help="Record the GPU memory the model needs.")] = None,
                 allow_unfingerprinted: Annotated[bool, typer.Option("--allow-unfingerprinted", help="Write the card even when the model directory's tokenizer cannot be fingerprinted (no tokenizer_sha).")] = False) -> int:
    """Write model-card.json from the build environment: package versions, compiled CUDA, torch revision, tokenizer / chat template / checkpoint fingerprints."""
    from wfgy_rules.commands import lock

    return lock.run(config, model_dir, model, output, requires_gpu, min_gpu_memory_gib, allow_unfingerprinted)


@app.command("schema", epilog="Exit codes: 0 printed · 2 unknown schema name.")
def schema_command(name: Annotated[str, typer.Argument(help="policy, config, policy-test, model-card, prompt-vars or report.")]) -> int:
    """Print a JSON Schema (for editors: '# yaml-language-server: $schema=…')."""
    from wfgy_rules.commands import schema

    return schema.run(name)


@app.command("serve", epilog="Exit codes: 0 stopped (or killed by the SIGTERM it handled: 143 in a shell) · 2 invalid input (config, policies, cert or key) · 3 internal error.")
def serve_command(cert: Annotated[str, typer.Option("--cert", metavar="FILE", help="TLS certificate (PEM); reloaded when it changes.")],
                  key: Annotated[str, typer.Option("--key", metavar="FILE", help="TLS private key (PEM); reloaded when it changes.")],
                  config: ConfigOpt = None,
                  host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
                  port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8443,
                  timeout: Annotated[float, typer.Option("--timeout", help="Seconds to answer a review in (keep it below the webhook's timeoutSeconds); a connection that has not finished its TLS handshake and sent a whole request head by then is closed.")] = 8.0,
                  failure_mode: Annotated[str, typer.Option("--failure-mode", help="On an internal error or a missed deadline: fail (deny) or ignore (admit, with a warning).")] = "fail",
                  max_body: Annotated[int, typer.Option("--max-body", help="Largest request body in bytes.")] = 3 * 1024 * 1024,
                  reload_interval: Annotated[float, typer.Option("--reload-interval", help="Seconds between checks of the cert and key files.")] = 10.0,
                  max_connections: Annotated[int, typer.Option("--max-connections", help="Connections held at once, TLS handshakes included; more are closed at once.")] = 256) -> int:
    """Validating admission webhook (AdmissionReview v1 at /validate; /healthz, /readyz) judging pods with the kubernetes pack."""
    from wfgy_rules.commands import serve

    return serve.run(cert, key, config, host, port, timeout, failure_mode, max_body, reload_interval, max_connections)


@app.command("diff", epilog="Exit codes: 0 compared (--exit-code: 1 when something drifted or is missing) · 2 invalid input · 3 internal error.")
def diff_command(config: ConfigOpt = None,
                 facts: Annotated[Optional[list[str]], typer.Option("--facts", help="A bundle from 'wfgy-rules facts' instead of gathering; give it twice (OLD, then NEW) to see what changed between two bundles.")] = None,
                 format: Annotated[str, typer.Option("--format", "-f", help="text, json or markdown.")] = "text",
                 output: OutputOpt = None,
                 show_all: Annotated[bool, typer.Option("--all", help="With two bundles, also list the fields that are equal.")] = False,
                 exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 1 when a field drifted or is missing.")] = False) -> int:
    """Declared vs effective runtime side by side (model card ↔ runtime, env, secrets, prompt variables), or two fact bundles.

    Marks: equal, drifted (with the drift level for versions), missing, extra, unpaired
    (a model-card field nothing effective is compared with). Names and kinds only: never
    the value of a variable or a secret.
    """
    from wfgy_rules.commands import diff

    return diff.run(config, facts or [], format, output, show_all, exit_code)


@app.command("query", epilog="Exit codes: 0 printed · 1 the expression failed on these facts · 2 invalid expression, unknown name or rule · 3 internal error.")
def query_command(expression: Annotated[str, typer.Argument(metavar="EXPR", help="A JMESPath expression, e.g. \"runtime.packages.torch\" or \"version_drift(runtime.packages.torch, model_card.declared.torch)\".")],
                  config: ConfigOpt = None,
                  facts: Annotated[Optional[str], typer.Option("--facts", help="A bundle from 'wfgy-rules facts' instead of gathering the providers EXPR names.")] = None,
                  rule: Annotated[Optional[str], typer.Option("--rule", help="Evaluate with this rule's effective params (config overrides included) as 'params'.")] = None) -> int:
    """Print the value of EXPR (JSON) over the facts rules see: try an expression before writing it."""
    from wfgy_rules.commands import query

    return query.run(expression, config, facts, rule)


@app.command("init", epilog="Exit codes: 0 written · 2 a file it would write already exists, or a wfgy.yaml above already applies here (nothing is written) · 3 internal error.")
def init_command(nested: Annotated[bool, typer.Option("--nested", help="Write the project even though a wfgy.yaml above (up to the repository root) applies here; commands run here then read the new one.")] = False) -> int:
    """Write a starter wfgy.yaml, policies/team.yaml with its test, and prompt_vars.yaml for this directory.

    Detects a Hugging Face model directory, prompt folders (prompts/, templates/) and a
    .env.example; never prompts, never overwrites. The files pass 'wfgy-rules validate' and
    'wfgy-rules test' as written.
    """
    from wfgy_rules.commands import init

    return init.run(nested)


@app.command("verify-attestation", epilog="Exit codes: 0 the signature verifies, the statement is a verdict, and the options accept it · 1 tampered, another key, not a verdict statement, a pinned --policy-digest or --stage that differs, or (--require-pass) a failing or forced verdict, one that judged no rule, or one narrowed by --only/--skip · 2 missing file, unreadable key or bad option · 3 internal error.")
def verify_attestation_command(path: Annotated[str, typer.Argument(metavar="FILE", help="A DSSE envelope written by --attest FILE --sign-key PEM.")],
                               key: Annotated[str, typer.Option("--key", metavar="PUB", help="The signer's public key (PEM, ed25519 or ECDSA P-256).")],
                               require_pass: Annotated[bool, typer.Option("--require-pass", help="Also exit 1 when the verdict is a failure, was forced, judged no rule, or came from a run narrowed by --only/--skip.")] = False,
                               allow_selection: Annotated[bool, typer.Option("--allow-selection", help="With --require-pass: accept a pass of a run narrowed by --only/--skip.")] = False,
                               policy_digest: Annotated[Optional[str], typer.Option("--policy-digest", metavar="sha256:HEX", help="Exit 1 unless the verdict is over this policy digest (a report's policy_digest).")] = None,
                               stage: Annotated[Optional[str], typer.Option("--stage", metavar="STAGE", help="Exit 1 unless the verdict's rules were chosen by this --stage: ci, deploy or all.")] = None) -> int:
    """Check an attestation's signature (DSSE, PAE) and its in-toto Statement; print the verdict it carries."""
    from wfgy_rules.attest.verify import Wants
    from wfgy_rules.commands import verify_attestation

    return verify_attestation.run(path, key, Wants(require_pass, allow_selection, policy_digest, stage))


@app.command("merge", epilog="Exit codes: 0 the merged run passed (or was forced) · 1 it failed · 2 not the jsonl reports of all shards of one run, or unreadable.")
def merge_command(reports: Annotated[list[str], typer.Argument(metavar="REPORT...", help="The jsonl reports of all N shards of one run ('eval --facts DIR --shard I/N --format jsonl'), in any order.")],
                  output: OutputOpt = None) -> int:
    """Combine shard reports into the report a single run would have written: same results, summary and facts digest, byte for byte."""
    from wfgy_rules.commands import merge

    return merge.run(reports, output)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every outcome to an exit code in one place."""
    import click

    from wfgy_rules.errors import WfgyError

    for stream in (sys.stdout, sys.stderr):  # a non-Unicode name or value is escaped, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    command = typer.main.get_command(app)
    _terminate_like_ctrl_c()
    try:
        code = command.main(args=argv, prog_name="wfgy-rules", standalone_mode=False)
        if code == ExitCode.INTERRUPTED:  # Typer turns Ctrl-C into a *returned* 130 when not standalone
            code = _interrupted()
    except click.exceptions.Exit as exc:
        code = _interrupted() if exc.exit_code == ExitCode.INTERRUPTED else exc.exit_code
    except click.exceptions.Abort:
        code = _interrupted()
    except click.ClickException as exc:
        exc.show()
        code = ExitCode.INVALID_INPUT
    except WfgyError as exc:
        from wfgy_rules.reporters.escaping import text as one_line

        for line in exc.lines():  # a hostile file name cannot start a line of its own
            print(one_line(f"error: {line}" if not exc.problems else line), file=sys.stderr)
        code = ExitCode.INVALID_INPUT
    except KeyboardInterrupt:
        code = _interrupted()
    except BrokenPipeError:
        code = ExitCode.FAILED
    except Exception as exc:  # the one place an unexpected error becomes exit 3
        if os.environ.get("WFGY_DEBUG"):
            raise
        from wfgy_rules.reporters.escaping import text as one_line

        print(one_line(f"internal error: {type(exc).__name__}: {exc} (set WFGY_DEBUG=1 for a traceback)"), file=sys.stderr)
        code = ExitCode.INTERNAL_ERROR
    sys.exit(int(code) if isinstance(code, int) else ExitCode.PASSED)


_terminated: list[int] = []  # the SIGTERM that ended this run, once received


def _terminate_like_ctrl_c() -> None:
    """SIGTERM raises KeyboardInterrupt, once: the run unwinds as on Ctrl-C, then exits 143."""
    def handler(signum, frame) -> None:
        if not _terminated:  # a second SIGTERM while the run is already unwinding changes nothing
            _terminated.append(signum)
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # main() called outside the main thread (a test): signals stay as they are
        pass


def _interrupted() -> int:
    if _terminated:
        print("terminated", file=sys.stderr)
        return ExitCode.TERMINATED
    print("interrupted", file=sys.stderr)
    return ExitCode.INTERRUPTED


if __name__ == "__main__":
    main()
