// keel tokenize / keel detokenize: text ⇄ ids over standard input/output.
#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdio>
#include <stdio.h>
#include <string>
#include <vector>

#include "keel/cli/commands.h"
#include "keel/tokenizer/tokenizer.h"

namespace keel::cli {
namespace {

using keel::tokenizer::Tokenizer;
using nlohmann::json;

constexpr size_t kBatchLines = 2048;

// Reads one line from stdin without its trailing '\n'; false at EOF.
// (POSIX getline: much faster than iostreams synced with stdio.)
bool read_line(std::string& line) {
  static char* buf = nullptr;
  static size_t cap = 0;
  ssize_t n = ::getline(&buf, &cap, stdin);
  if (n < 0) return false;
  if (n > 0 && buf[n - 1] == '\n') --n;
  line.assign(buf, static_cast<size_t>(n));
  return true;
}

struct TokenizeOptions {
  std::string tokenizer_path;
  bool add_special_tokens = false;
  bool jsonl = false;
  bool lossy = false;
  bool skip_special = false;
  bool split_special = false;
  bool offsets = false;       // code-point offsets, as HF's Python/Node bindings
  bool byte_offsets = false;  // UTF-8 byte offsets
};

int fail(const std::string& message) {
  std::fprintf(stderr, "keel: %s\n", message.c_str());
  return 1;
}

Result<Tokenizer> load(const TokenizeOptions& o) {
  auto t = Tokenizer::from_path(o.tokenizer_path);
  if (!t.ok()) return t.status().with_context("loading tokenizer");
  return t;
}

// Parses one JSONL line holding a JSON string.
Result<std::string> parse_text_line(const std::string& line, size_t line_no) {
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_string()) {
    return InvalidArgumentError("line {}: expected a JSON string per line (--jsonl)", line_no);
  }
  return j.get<std::string>();
}

// Texts with offsets, one at a time (encode_batch returns ids only). Plain
// output: "<ids>\t<start>:<end> ..."; --jsonl: {"ids":[...],"offsets":[[s,e],...]}.
Status flush_offsets(const Tokenizer& tok, const TokenizeOptions& o,
                     const tokenizer::EncodeOptions& eo, std::vector<std::string>& texts,
                     size_t first_line) {
  std::string out;
  for (size_t t = 0; t < texts.size(); ++t) {
    auto r = tok.encode(texts[t], eo);
    if (!r.ok()) return r.status().with_context(fmt::format("line {}", first_line + t));
    const std::vector<tokenizer::Offsets> offsets =
        o.byte_offsets ? r->offsets : tokenizer::to_char_offsets(texts[t], r->offsets);
    out += o.jsonl ? "{\"ids\":[" : "";
    for (size_t i = 0; i < r->ids.size(); ++i) {
      if (i) out += o.jsonl ? "," : " ";
      out += std::to_string(r->ids[i]);
    }
    out += o.jsonl ? "],\"offsets\":[" : "\t";
    for (size_t i = 0; i < offsets.size(); ++i) {
      if (i) out += o.jsonl ? "," : " ";
      out += o.jsonl ? fmt::format("[{},{}]", offsets[i].first, offsets[i].second)
                     : fmt::format("{}:{}", offsets[i].first, offsets[i].second);
    }
    out += o.jsonl ? "]}\n" : "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  texts.clear();
  return OkStatus();
}

Status flush_batch(const Tokenizer& tok, const TokenizeOptions& o, std::vector<std::string>& texts,
                   size_t first_line) {
  if (texts.empty()) return OkStatus();
  tokenizer::EncodeOptions eo;
  eo.add_special_tokens = o.add_special_tokens;
  eo.lossy_utf8 = o.lossy;
  eo.split_special_tokens = o.split_special;
  if (o.offsets || o.byte_offsets) {
    eo.offsets = true;
    return flush_offsets(tok, o, eo, texts, first_line);
  }
  auto r = tok.encode_batch(texts, eo, Deadline::after(std::chrono::minutes(10)));
  if (!r.ok()) {
    // Find the failing line for a precise message.
    for (size_t i = 0; i < texts.size(); ++i) {
      auto one = tok.encode(texts[i], eo);
      if (!one.ok()) return one.status().with_context(fmt::format("line {}", first_line + i));
    }
    return r.status();
  }
  const std::vector<std::vector<uint32_t>>& all = *r;
  std::string out;
  for (const auto& ids : all) {
    if (o.jsonl) out += '[';
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += o.jsonl ? "," : " ";
      out += std::to_string(ids[i]);
    }
    out += o.jsonl ? "]\n" : "\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  texts.clear();
  return OkStatus();
}

int run_tokenize(const TokenizeOptions& o) {
  auto tok = load(o);
  if (!tok.ok()) return fail(tok.status().to_string());
  std::vector<std::string> batch;
  std::string line;
  size_t line_no = 0, batch_first = 1;
  while (read_line(line)) {
    ++line_no;
    if (batch.empty()) batch_first = line_no;
    if (o.jsonl) {
      auto t = parse_text_line(line, line_no);
      if (!t.ok()) return fail(t.status().to_string());
      batch.push_back(std::move(t).value());
    } else {
      batch.push_back(line);
    }
    if (batch.size() >= kBatchLines) {
      if (Status s = flush_batch(*tok, o, batch, batch_first); !s.ok()) return fail(s.to_string());
    }
  }
  if (Status s = flush_batch(*tok, o, batch, batch_first); !s.ok()) return fail(s.to_string());
  return 0;
}

Result<std::vector<uint32_t>> parse_ids(const std::string& line, bool jsonl, size_t line_no) {
  std::vector<uint32_t> ids;
  if (jsonl) {
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_array()) {
      return InvalidArgumentError("line {}: expected a JSON array of token ids (--jsonl)", line_no);
    }
    for (const json& v : j) {
      if (!v.is_number_unsigned() || v.get<uint64_t>() > UINT32_MAX) {
        return InvalidArgumentError("line {}: token ids must be non-negative integers, got {}",
                                    line_no, v.dump());
      }
      ids.push_back(static_cast<uint32_t>(v.get<uint64_t>()));
    }
    return ids;
  }
  const char* p = line.data();
  const char* end = p + line.size();
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) ++p;
    if (p == end) break;
    uint32_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc() || (next < end && *next != ' ' && *next != '\t' && *next != '\r')) {
      const char* tok_end = p;
      while (tok_end < end && *tok_end != ' ') ++tok_end;
      return InvalidArgumentError("line {}: '{}' is not a token id (expected space-separated "
                                  "non-negative integers)", line_no, std::string(p, tok_end));
    }
    ids.push_back(v);
    p = next;
  }
  return ids;
}

int run_detokenize(const TokenizeOptions& o) {
  auto tok = load(o);
  if (!tok.ok()) return fail(tok.status().to_string());
  std::string line;
  size_t line_no = 0;
  std::string out;
  while (read_line(line)) {
    ++line_no;
    auto ids = parse_ids(line, o.jsonl, line_no);
    if (!ids.ok()) return fail(ids.status().to_string());
    auto text = tok->decode(*ids, o.skip_special);
    if (!text.ok()) return fail(text.status().with_context(fmt::format("line {}", line_no)).to_string());
    out = o.jsonl ? json(*text).dump(-1, ' ', false, json::error_handler_t::replace) : *text;
    out += '\n';
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  return 0;
}

void add_common(CLI::App* sub, TokenizeOptions& o) {
  sub->add_option("--tokenizer", o.tokenizer_path,
                  "tokenizer.json, tokenizer.model, or a model folder")
      ->required();
  sub->add_flag("--jsonl", o.jsonl, "one JSON value per line instead of plain text");
}

}  // namespace

Runner add_tokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "tokenize", "Read texts from stdin (one per line, or JSON strings with --jsonl) and print "
                  "their token ids, one line per text");
  add_common(sub, *o);
  sub->add_flag("--add-special-tokens", o->add_special_tokens,
                "add the tokenizer's special tokens (e.g. BOS)");
  sub->add_flag("--lossy", o->lossy, "replace invalid UTF-8 with U+FFFD instead of failing");
  sub->add_flag("--split-special-tokens", o->split_special,
                "treat special tokens written in the text as plain text (as libsentencepiece)");
  auto* offsets = sub->add_flag(
      "--offsets", o->offsets,
      "also print each token's [start, end) in the text, in Unicode code points as HF "
      "tokenizers' Python/Node bindings report them (plain: \"<ids>\\t<start>:<end> ...\"; "
      "--jsonl: {\"ids\": [...], \"offsets\": [[start, end], ...]})");
  sub->add_flag("--byte-offsets", o->byte_offsets,
                "as --offsets, in UTF-8 bytes of the text")
      ->excludes(offsets);
  return [o] { return run_tokenize(*o); };
}

Runner add_detokenize_command(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  CLI::App* sub = app.add_subcommand(
      "detokenize", "Read token ids from stdin (space-separated, or JSON arrays with --jsonl) and "
                    "print the decoded text, one line per input line");
  add_common(sub, *o);
  sub->add_flag("--skip-special-tokens", o->skip_special, "drop special tokens from the text");
  return [o] { return run_detokenize(*o); };
}

}  // namespace keel::cli
