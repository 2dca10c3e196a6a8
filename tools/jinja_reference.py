#!/usr/bin/python3
"""Reference renderer for keel's chat templates: Python Jinja2 configured as
HuggingFace transformers configures it for `apply_chat_template`
(ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
its tojson / raise_exception / strftime_now).

Input: JSON lines (from the files named, or stdin), one job each:
  {"template": "...", "context": {...}}        (other keys are echoed back)
Output: one JSON line per job, in order:
  {"ok": true, "output": "..."}  or
  {"ok": false, "error_type": "TemplateError", "message": "...", "raised": true|false}
`raised` is true when the template itself called raise_exception(msg).
With --now 'YYYY-mm-dd HH:MM:SS' strftime_now uses that local time.

Needs Debian's python3-jinja2 (run with /usr/bin/python3; a pyenv python3
first on PATH may lack it): apt-get install python3-jinja2.
"""
import json
import sys
from datetime import datetime

try:
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
except ImportError:
    sys.stderr.write("jinja_reference.py: python3 jinja2 is missing; install it with "
                     "`apt-get install python3-jinja2` (scripts/install-deps.sh) and run "
                     "with /usr/bin/python3\n")
    sys.exit(3)


class Raised(jinja2.exceptions.TemplateError):
    pass


def make_env(now):
    def raise_exception(message):
        raise Raised(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return (now or datetime.now()).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


_compiled = {}


def render(env, job):
    try:
        source = job["template"]
        if source not in _compiled:
            _compiled[source] = env.from_string(source)
        out = _compiled[source].render(**job.get("context", {}))
        return {"ok": True, "output": out}
    except Raised as e:
        return {"ok": False, "error_type": "TemplateError", "message": str(e), "raised": True}
    except Exception as e:  # noqa: BLE001 - every failure is a result here
        return {"ok": False, "error_type": type(e).__name__, "message": str(e), "raised": False}


def main(argv):
    now = None
    files = []
    i = 0
    while i < len(argv):
        if argv[i] == "--now":
            now = datetime.strptime(argv[i + 1], "%Y-%m-%d %H:%M:%S")
            i += 2
        else:
            files.append(argv[i])
            i += 1
    env = make_env(now)
    streams = [open(f, encoding="utf-8") for f in files] or [sys.stdin]
    out = sys.stdout
    for stream in streams:
        for line in stream:
            if not line.strip():
                continue
            out.write(json.dumps(render(env, json.loads(line)), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
