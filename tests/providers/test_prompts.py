"""The ``prompts`` provider over real files in a temporary directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.helpers import REPO
from wfgy_rules.errors import ProviderError
from wfgy_rules.providers.base import ProviderContext
from wfgy_rules.providers.prompts.prompts import CONFIG_SCHEMA, PromptsProvider
from wfgy_rules.providers.prompts.templates.placeholders import RUNTIME_NAMES, Placeholder, scan

FACT_KEYS = {"file_count", "files", "vars", "declared", "undeclared", "optional", "unused", "errors", "notes"}

VARS_YAML = """\
apiVersion: wfgy-rules/v1
kind: PromptVars
vars:
  customer_name: {required: true, description: supplied by the app}
  tone: {default: friendly}
  locale: en-GB
  persona: {description: documented only}
  legacy: {required: true}
"""


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")


def collect(root: Path, **config) -> dict:
    facts = PromptsProvider().collect(config, ProviderContext(base_dir=root, environ={}))
    assert json.loads(json.dumps(facts)) == facts  # JSON values only
    return facts


def test_facts_end_to_end(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "prompt_vars.yaml": VARS_YAML,
            "prompts/support.j2": "Dear {{ customer_name }},\n{{ tone | default('calm') }} {{ persona }}\n{{ order_id }}\n",
            "prompts/sub/notify.txt": "Order ${ORDER}: ${STATUS:-pending} for {{ locale }}",
            "prompts/readme.md": "No placeholders here.",
        },
    )
    facts = collect(tmp_path, vars="prompt_vars.yaml")
    assert set(facts) == FACT_KEYS
    assert facts["file_count"] == 3
    assert [(f["path"], f["syntax"]) for f in facts["files"]] == [
        ("prompts/readme.md", None),
        ("prompts/sub/notify.txt", "jinja2"),  # {{ wins over ${ when guessing
        ("prompts/support.j2", "jinja2"),
    ]
    plain = {"default": False, "optional": False, "syntax": "jinja2"}
    assert facts["files"][2]["placeholders"] == [
        {"name": "customer_name", "line": 1, "column": 9, **plain},
        {"name": "tone", "line": 2, "column": 4, **plain, "default": True},
        {"name": "persona", "line": 2, "column": 33, **plain},
        {"name": "order_id", "line": 3, "column": 4, **plain},
    ]
    # a sniffed file is scanned for every syntax whose markers it holds
    assert [(p["name"], p["syntax"]) for p in facts["files"][1]["placeholders"]] == [
        ("locale", "jinja2"), ("ORDER", "dollar"), ("STATUS", "dollar")]
    assert facts["vars"] == {"path": "prompt_vars.yaml", "present": True}
    assert facts["declared"] == ["customer_name", "legacy", "locale", "persona", "tone"]
    assert facts["undeclared"] == [
        {"name": "ORDER", "path": "prompts/sub/notify.txt", "line": 1, "column": 9, "syntax": "dollar", "declared": False},
        {"name": "persona", "path": "prompts/support.j2", "line": 2, "column": 33, "syntax": "jinja2", "declared": True},
        {"name": "order_id", "path": "prompts/support.j2", "line": 3, "column": 4, "syntax": "jinja2", "declared": False},
    ]
    assert facts["unused"] == ["legacy"]
    assert facts["errors"] == []


def test_without_vars_every_placeholder_without_default_is_undeclared(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/a.sh.tmpl": "${A} ${B:-x} ${C:?set C}"})
    facts = collect(tmp_path)
    assert facts["vars"] == {"path": None, "present": False}
    assert [(u["name"], u["column"], u["syntax"]) for u in facts["undeclared"]] == [("A", 3, "dollar"), ("C", 16, "dollar")]


def test_missing_vars_file_is_a_fact(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/a.j2": "{{ x }}"})
    facts = collect(tmp_path, vars="prompt_vars.yaml")
    assert facts["vars"] == {"path": "prompt_vars.yaml", "present": False}
    assert [u["name"] for u in facts["undeclared"]] == ["x"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars:\n  tone: {defualt: x}\n",
            "prompt_vars.yaml:4:10: vars.tone.defualt: unknown key 'defualt' (did you mean 'default'?)",
        ),
        (
            "apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars:\n  tone: {required: yes please}\n",
            'prompt_vars.yaml:4:20: vars.tone.required: expected boolean, got "yes please" (string)',
        ),
        (
            "apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars: {a: 1\n",
            "prompt_vars.yaml:4:1: invalid YAML: while parsing a flow mapping did not find expected ',' or '}'",
        ),
        ("kind: PromptVars\nvars: {}\n", "prompt_vars.yaml:1:1: missing required key 'apiVersion'"),
        (
            "apiVersion: wfgy-rules/v1\nkind: PromptVars\nvars:\n  a: 1\n  a: 2\n",
            "prompt_vars.yaml:5:3: vars.a: duplicate key 'a' (first defined at line 4)",
        ),
    ],
)
def test_invalid_vars_file_raises_one_located_line(tmp_path: Path, text: str, message: str) -> None:
    write_tree(tmp_path, {"prompt_vars.yaml": text})
    with pytest.raises(ProviderError) as caught:
        collect(tmp_path, vars="prompt_vars.yaml")
    assert str(caught.value) == message


# Hugging Face chat templates in the styles of well-known model families (written for these
# tests). Every free name in them is supplied by the runtime.
LLAMA2_STYLE = """\
{%- if messages[0]['role'] == 'system' -%}
    {%- set sys_text = messages[0]['content'] -%}
    {%- set turns = messages[1:] -%}
{%- else -%}
    {%- set sys_text = false -%}
    {%- set turns = messages -%}
{%- endif -%}
{%- for turn in turns -%}
    {%- if (turn['role'] == 'user') != (loop.index0 is even) -%}
        {{- raise_exception('Turns must alternate between user and assistant') -}}
    {%- endif -%}
    {%- if loop.first and sys_text -%}
        {%- set body = '<<SYS>>\\n' ~ sys_text ~ '\\n<</SYS>>\\n\\n' ~ turn['content'] -%}
    {%- else -%}
        {%- set body = turn['content'] -%}
    {%- endif -%}
    {%- if turn['role'] == 'user' -%}
        {{- bos_token ~ '[INST] ' ~ body | trim ~ ' [/INST]' -}}
    {%- else -%}
        {{- ' ' ~ body | trim ~ ' ' ~ eos_token -}}
    {%- endif -%}
{%- endfor -%}
"""

LLAMA3_STYLE = """\
{{- bos_token }}
{%- if custom_tools is defined %}{%- set tools = custom_tools %}{%- endif %}
{%- if not tools_in_user_message is defined %}{%- set tools_in_user_message = true %}{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}{%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}{%- set date_string = "01 Jan 2025" %}{%- endif %}
{%- endif %}
{%- if messages[0].role == 'system' %}
    {%- set system_text = messages[0].content | trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_text = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if builtin_tools is defined or tools is not none %}{{- "Environment: ipython\\n" }}{%- endif %}
{{- "Today Date: " + date_string + "\\n\\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {%- for t in tools %}{{- t | tojson(indent=4) }}{{- "\\n\\n" }}{%- endfor %}
{%- endif %}
{{- system_text }}{{- "<|eot_id|>" }}
{%- set ns = namespace(seen_user=false) %}
{%- for message in messages %}
    {%- if message.role == 'user' %}{%- set ns.seen_user = true %}{%- endif %}
    {%- if message.role == 'tool' or message.role == 'ipython' %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\\n\\n" }}
        {{- message.content | tojson if message.content is mapping else message.content }}
    {%- else %}
        {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\\n\\n' + message.content | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}
"""

CHATML_STYLE = """\
{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{ '<|im_start|>' + message['role'] + '\\n' }}{% if message['role'] == 'assistant' %}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{% else %}{{ message['content'] + '<|im_end|>' }}{% endif %}{{ '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
"""

MISTRAL_STYLE = """\
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.last and system_message is defined %}
            {{- '[INST] ' + system_message + '\\n\\n' + message['content'] + '[/INST]' }}
        {%- else %}
            {{- '[INST] ' + message['content'] + '[/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token }}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %}
"""

CHAT_TEMPLATES = {"llama2": LLAMA2_STYLE, "llama3": LLAMA3_STYLE, "chatml": CHATML_STYLE, "mistral": MISTRAL_STYLE}


@pytest.mark.parametrize("template", CHAT_TEMPLATES.values(), ids=list(CHAT_TEMPLATES))
def test_chat_templates_scan_to_runtime_names_only(template: str) -> None:
    placeholders, problems = scan(template, "chat_template")
    assert problems == []
    unresolved = {p.name for p in placeholders if not p.default} - RUNTIME_NAMES["chat_template"]
    assert unresolved == set()
    assert "messages" in {p.name for p in placeholders}


def test_chat_template_positions() -> None:
    placeholders, _ = scan(MISTRAL_STYLE, "chat_template")
    assert "system_message" not in {p.name for p in placeholders}  # a local, set on one path
    needed = [p for p in placeholders if not p.optional][:2]
    assert needed == [Placeholder("messages", 1, 8), Placeholder("bos_token", 7, 5)]
    # messages[0] is needed in the test; inside the branch that tested it, it is guarded
    assert Placeholder("messages", 2, 30, optional=True) in placeholders


@pytest.mark.parametrize("name", list(CHAT_TEMPLATES))
def test_chat_templates_have_no_undeclared_names(tmp_path: Path, name: str) -> None:
    write_tree(tmp_path, {f"models/{name}/chat_template.jinja": CHAT_TEMPLATES[name]})
    facts = collect(tmp_path, paths=["models/**/*.jinja"])
    assert [(f["syntax"], f["path"]) for f in facts["files"]] == [("chat_template", f"models/{name}/chat_template.jinja")]
    assert facts["undeclared"] == []
    assert facts["errors"] == []


@pytest.mark.parametrize("name", ["t/chatml.jinja", "t/template_chatml.jinja", "prompts/llama3.jinja", "t/tool_chat_template_x.jinja"])
def test_chat_templates_are_recognised_by_content_or_name(tmp_path: Path, name: str) -> None:
    write_tree(tmp_path, {name: CHAT_TEMPLATES["chatml"]})
    facts = collect(tmp_path, paths=["t/*", "prompts/*"])
    assert facts["files"][0]["syntax"] == "chat_template"
    assert facts["undeclared"] == []


def test_a_jinja_prompt_that_never_iterates_messages_is_no_chat_template(tmp_path: Path) -> None:
    write_tree(tmp_path, {"t/a.jinja": "{{ messages }} and {{ bos_token }}", "t/chat_template_notes.jinja": "{{ x }}"})
    facts = collect(tmp_path, paths=["t/*"])
    assert [f["syntax"] for f in facts["files"]] == ["jinja2", "chat_template"]
    assert [u["name"] for u in facts["undeclared"]] == ["messages", "bos_token", "x"]


@pytest.mark.parametrize(
    ("name", "text", "syntax"),
    [
        ("a.jinja", "plain", "jinja2"),
        ("a.J2", "plain", "jinja2"),
        ("a.jinja2", "plain", "jinja2"),
        ("chat_template.j2", "plain", "chat_template"),
        ("a.mustache", "plain", "mustache"),
        ("a.hbs", "plain", "mustache"),
        ("a.txt", "{% if x %}", "jinja2"),
        ("a.txt", "{{ x }}", "jinja2"),
        ("a.txt", "${X}", "dollar"),
        ("a.txt", "$X and {x}", "format"),  # a lone {x} field, sniffed
        ("a.txt", "see f{x} and \\frac{a}{b} or $X", None),  # glued braces are no fields
        ("a.txt", "{{$input}} and {{time.now}}", "semantic_kernel"),
        ("a.md", "```\n{{ github.ref }}\n```\nplain", None),  # fenced code is code
        ("a.txt", "plain", None),
    ],
)
def test_syntax_detection(tmp_path: Path, name: str, text: str, syntax: str | None) -> None:
    write_tree(tmp_path, {f"prompts/{name}": text})
    assert collect(tmp_path)["files"][0]["syntax"] == syntax


def test_configured_syntax_first_match_wins(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/a.txt": 'Answer as {"k": 1} about {topic}', "prompts/b.txt": "$USER"})
    facts = collect(tmp_path, syntax={"prompts/a.*": "format", "prompts/*": "dollar"})
    assert [(f["syntax"], [p["name"] for p in f["placeholders"]]) for f in facts["files"]] == [
        ("format", ["topic"]),
        ("dollar", ["USER"]),
    ]


def test_unreadable_files_are_errors_not_crashes(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "prompts/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            "prompts/latin1.txt": "first line\ncaf\xe9 {{ x }}".encode("latin-1"),
            "prompts/huge.txt": "{{ x }}" + " " * 200,
            "prompts/broken.j2": "ok\n{% if x %}\nno end",
            "prompts/ok.j2": "{{ y }}",
        },
    )
    facts = collect(tmp_path, max_file_bytes=100)
    assert facts["file_count"] == 5
    assert facts["errors"] == [
        {"path": "prompts/broken.j2", "line": 2, "column": None, "message": "Unexpected end of template. Jinja was looking for the following tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'."},
        {"path": "prompts/huge.txt", "line": None, "column": None, "message": "file too large (207 bytes, max_file_bytes is 100)"},
        {"path": "prompts/latin1.txt", "line": 2, "column": 4, "message": "not UTF-8 text (byte 0xe9)"},
        {"path": "prompts/logo.png", "line": None, "column": None, "message": "binary file (contains NUL bytes)"},
    ]
    assert [(f["path"], f["syntax"]) for f in facts["files"]][:4] == [
        ("prompts/broken.j2", "jinja2"),
        ("prompts/huge.txt", None),
        ("prompts/latin1.txt", None),
        ("prompts/logo.png", None),
    ]
    assert [u["name"] for u in facts["undeclared"]] == ["y"]


def test_bom_and_crlf(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/a.j2": "\ufeff{{ a }}\r\n\r\nx {{ b }}\r\n"})
    placeholders = collect(tmp_path)["files"][0]["placeholders"]
    assert [(p["name"], p["line"], p["column"]) for p in placeholders] == [("a", 1, 4), ("b", 3, 6)]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_loops_end_and_files_are_listed_once(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/sub/a.j2": "{{ a }}"})
    (tmp_path / "prompts/sub/up").symlink_to("..", target_is_directory=True)  # prompts/sub/up -> prompts
    (tmp_path / "prompts/self").symlink_to("self")  # a file symlink that points at itself
    (tmp_path / "prompts/dangling.j2").symlink_to("missing.j2")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/b.j2").write_text("{{ b }}")
    (tmp_path / "prompts/linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    facts = collect(tmp_path)
    assert [f["path"] for f in facts["files"]] == ["prompts/linked/b.j2", "prompts/sub/a.j2"]
    assert facts["errors"] == []


def test_hidden_entries_need_an_explicit_pattern(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/.cache/a.j2": "{{ a }}", "prompts/.b.j2": "{{ b }}", "prompts/c.j2": "{{ c }}"})
    assert [f["path"] for f in collect(tmp_path)["files"]] == ["prompts/c.j2"]
    facts = collect(tmp_path, paths=["prompts/.cache/*", "prompts/.*.j2"])
    assert [f["path"] for f in facts["files"]] == ["prompts/.b.j2", "prompts/.cache/a.j2"]


def test_patterns_files_directories_and_outside_paths(tmp_path: Path) -> None:
    base = tmp_path / "project"
    write_tree(base, {"system.txt": "${A}", "deep/x/y.j2": "{{ y }}", "deep/z.md": "none", "other/q.j2": "{{ q }}"})
    write_tree(tmp_path, {"shared/s.j2": "{{ s }}"})
    facts = collect(base, paths=["system.txt", "deep", "**/q.j2", "../shared/*.j2", "missing/**/*"])
    assert [f["path"] for f in facts["files"]] == [
        (tmp_path / "shared/s.j2").resolve().as_posix(),
        "deep/x/y.j2",
        "deep/z.md",
        "other/q.j2",
        "system.txt",
    ]


def test_single_star_stays_in_one_directory(tmp_path: Path) -> None:
    write_tree(tmp_path, {"prompts/a.j2": "", "prompts/sub/b.j2": "", "prompts/sub/c.txt": ""})
    assert [f["path"] for f in collect(tmp_path, paths=["prompts/*.j2"])["files"]] == ["prompts/a.j2"]
    assert [f["path"] for f in collect(tmp_path, paths=["prompts/**/*.j2"])["files"]] == ["prompts/a.j2", "prompts/sub/b.j2"]
    assert [f["path"] for f in collect(tmp_path, paths=["prompts/s?b/[!b]*"])["files"]] == ["prompts/sub/c.txt"]


def test_serial_and_parallel_scans_are_identical(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {}
    for i in range(300):
        kind = i % 6
        name = f"prompts/g{i % 7}/p{i:03d}"
        if kind == 0:
            files[name + ".j2"] = f"Hi {{{{ user_{i % 11} }}}}\n{{% for m in items %}}{{{{ m }}}}{{% endfor %}}{{{{ t | d('x') }}}}"
        elif kind == 1:
            files[name + ".txt"] = f"${{VAR_{i % 5}}} and ${{OPT:-x}}"
        elif kind == 2:
            files[name + ".mustache"] = "{{#list}}{{name}}{{/list}}"
        elif kind == 3:
            files[name + ".j2"] = "{% if %}broken"
        elif kind == 4:
            files[name + ".bin"] = b"\x00\x01"
        else:
            files[name + ".md"] = "plain prose " * 20
    write_tree(tmp_path, files)
    serial = collect(tmp_path, workers=1)
    parallel = collect(tmp_path, workers=2)
    assert serial["file_count"] == 300
    assert json.dumps(serial, sort_keys=False) == json.dumps(parallel, sort_keys=False)
    assert [f["path"] for f in serial["files"]] == sorted(f["path"] for f in serial["files"])


def test_config_schema_is_complete() -> None:
    Draft202012Validator.check_schema(CONFIG_SCHEMA)
    assert CONFIG_SCHEMA["additionalProperties"] is False
    for name, prop in CONFIG_SCHEMA["properties"].items():
        assert prop.get("title") and prop.get("description"), name
    validator = Draft202012Validator(CONFIG_SCHEMA)
    assert validator.is_valid({"paths": ["p/**/*"], "vars": "v.yaml", "syntax": {"*.txt": "format"}, "max_file_bytes": 10, "workers": "auto"})
    assert not validator.is_valid({"syntax": {"*.txt": "erb"}})
    assert not validator.is_valid({"workers": 0})
    assert not validator.is_valid({"path": "prompts"})


def test_prompt_vars_schema() -> None:
    schema = json.loads((REPO / "schemas/prompt-vars.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://wfgy-rules.dev/schemas/prompt-vars.schema.json"
    validator = Draft202012Validator(schema)
    assert validator.is_valid(yaml.safe_load(VARS_YAML))
    assert not validator.is_valid({"apiVersion": "wfgy-rules/v1", "kind": "PromptVars", "vars": {"x": None}})
    assert not validator.is_valid({"apiVersion": "wfgy-rules/v1", "kind": "PromptVars", "vars": {"x": {"secret": True}}})
    for where, node in _subschemas(schema):
        for name, prop in node.get("properties", {}).items():
            assert prop.get("title") and prop.get("description"), f"{where}.{name}"


def _subschemas(node: object, where: str = "$"):
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _subschemas(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _subschemas(value, f"{where}[{index}]")


def test_semantic_kernel_config_json_declares_inputs(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "prompts/Joke/skprompt.txt": "Tell a joke about {{$input}} in {{$style}}. {{time.now}}",
            "prompts/Joke/config.json": json.dumps({"input_variables": [{"name": "input", "default": ""}]}),
        },
    )
    facts = collect(tmp_path)
    assert facts["files"][1]["syntax"] == "semantic_kernel"
    assert [(u["name"], u["line"], u["column"]) for u in facts["undeclared"]] == [("style", 1, 36)]


def test_templates_inside_yaml_and_prompty_are_located_in_the_file(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "prompts/pyrit.yaml": "name: x\nparameters: [prompt]\nvalue: |\n  Say {{ prompt }} to\n  {{ persona }} now\n",
            "prompts/lc.yaml": "input_variables: [q]\ntemplate: 'Q: {q} as {{json}} for {who}'\n",
            "prompts/a.prompty": "---\nname: a\nmodel:\n  api_key: ${env:KEY}\ninputs:\n  question: {type: string}\n---\nuser:\n{{ question }} {{ extra }}\n",
            "prompts/lc.txt": "Answer {question} as {{\"json\": true}}",  # an f-string: not Jinja
        },
    )
    facts = collect(tmp_path)
    assert [(u["path"], u["name"], u["line"], u["column"], u["syntax"]) for u in facts["undeclared"]] == [
        ("prompts/a.prompty", "extra", 9, 19, "jinja2"),
        ("prompts/lc.txt", "question", 1, 9, "format"),
        ("prompts/lc.yaml", "who", 2, 36, "format"),
        ("prompts/pyrit.yaml", "persona", 5, 6, "jinja2"),
    ]
    assert facts["errors"] == []
    assert [(n["path"], n["message"][:10]) for n in facts["notes"]] == [("prompts/lc.txt", "not Jinja ")]


def test_auto_workers_share_the_scan_once_it_has_enough_files_or_text(tmp_path: Path, monkeypatch) -> None:
    from wfgy_rules.providers.prompts import scanning

    write_tree(tmp_path, {f"prompts/p{i}.txt": "x" * 100 for i in range(10)})
    matched = [(f"prompts/p{i}.txt", str(tmp_path / f"prompts/p{i}.txt")) for i in range(10)]
    monkeypatch.setattr(scanning.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert scanning.workers_for("auto", matched) == 1  # 10 small files: one process
    assert scanning.workers_for(3, matched) == 3
    monkeypatch.setattr(scanning, "PARALLEL_MIN_FILES", 10)
    assert scanning.workers_for("auto", matched) == 2  # enough files
    monkeypatch.setattr(scanning, "PARALLEL_MIN_FILES", 11)
    monkeypatch.setattr(scanning, "PARALLEL_MIN_CHARS", 1000)
    assert scanning.workers_for("auto", matched) == 2  # enough text (1,000 bytes)
    monkeypatch.setattr(scanning, "PARALLEL_MIN_CHARS", 1001)
    assert scanning.workers_for("auto", matched) == 1


def test_a_file_past_the_first_read_is_read_whole_and_its_size_checked(tmp_path: Path) -> None:
    body = "x" * (100 * 1024) + "\nHello {{ late_name }}\n"
    write_tree(tmp_path, {"prompts/big.j2": body})
    facts = collect(tmp_path)
    assert [p["name"] for p in facts["files"][0]["placeholders"]] == ["late_name"]
    refused = collect(tmp_path, max_file_bytes=70 * 1024)
    assert refused["errors"][0]["message"] == f"file too large ({len(body.encode())} bytes, max_file_bytes is {70 * 1024})"
