#include "keel/tokenizer/added_tokens.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "keel/core/utf8.h"

namespace keel::tokenizer {

bool is_rust_whitespace(char32_t c) {
  // Unicode White_Space.
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

bool is_rust_word_char(char32_t c) {
  if (c < 0x80) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  }
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

namespace {

// Last code point of text[0, end).
char32_t last_char(std::string_view text, size_t end) {
  size_t p = end;
  while (p > 0 && (static_cast<unsigned char>(text[p - 1]) & 0xC0) == 0x80) --p;
  if (p > 0) --p;
  return utf8::decode(text, p).code_point;
}

// Start of the run of whitespace that ends at `end` (text[0, end)).
size_t whitespace_run_start(std::string_view text, size_t end) {
  size_t p = end;
  while (p > 0) {
    size_t q = p - 1;
    while (q > 0 && (static_cast<unsigned char>(text[q]) & 0xC0) == 0x80) --q;
    if (!is_rust_whitespace(utf8::decode(text, q).code_point)) break;
    p = q;
  }
  return p;
}

// End of the run of whitespace that starts at `begin`.
size_t whitespace_run_end(std::string_view text, size_t begin) {
  size_t p = begin;
  while (p < text.size()) {
    utf8::Decoded d = utf8::decode(text, p);
    if (!is_rust_whitespace(d.code_point)) break;
    p += d.length;
  }
  return p;
}

}  // namespace

AddedTokenSplitter::AddedTokenSplitter(const std::vector<const AddedToken*>& tokens) {
  // Build a trie with std::map children, then flatten to sorted edge arrays.
  struct BuildNode {
    std::map<uint8_t, uint32_t> children;
    int32_t token = -1;
  };
  std::vector<BuildNode> build(1);
  for (const AddedToken* t : tokens) {
    if (t->content.empty()) continue;
    uint32_t node = 0;
    for (unsigned char b : t->content) {
      auto it = build[node].children.find(b);
      if (it == build[node].children.end()) {
        const auto child = static_cast<uint32_t>(build.size());
        build[node].children.emplace(b, child);
        build.emplace_back();
        node = child;
      } else {
        node = it->second;
      }
    }
    // The first token with a given content wins (as an Aho-Corasick pattern list does).
    if (build[node].token < 0) {
      build[node].token = static_cast<int32_t>(tokens_.size());
      tokens_.push_back(t);
    }
    first_byte_[static_cast<unsigned char>(t->content[0])] = true;
  }
  // Real tokenizers' added tokens mostly all start with '<': then memchr
  // finds the candidates (the scan over the whole text is then nearly free).
  int first_bytes = 0;
  for (int b = 0; b < 256; ++b) {
    if (first_byte_[b]) {
      ++first_bytes;
      only_first_byte_ = b;
    }
  }
  if (first_bytes != 1) only_first_byte_ = -1;
  nodes_.resize(build.size());
  for (size_t i = 0; i < build.size(); ++i) {
    nodes_[i].first_edge = static_cast<uint32_t>(edges_.size());
    nodes_[i].num_edges = static_cast<uint16_t>(build[i].children.size());
    nodes_[i].token = build[i].token;
    for (const auto& [b, child] : build[i].children) edges_.push_back(Edge{b, child});
  }
}

std::pair<int32_t, uint32_t> AddedTokenSplitter::longest_at(std::string_view text,
                                                            size_t pos) const {
  int32_t best = -1;
  uint32_t best_len = 0;
  uint32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const Node& n = nodes_[node];
    const Edge* first = edges_.data() + n.first_edge;
    const Edge* last = first + n.num_edges;
    const auto b = static_cast<uint8_t>(text[i]);
    const Edge* e = std::lower_bound(first, last, b, [](const Edge& x, uint8_t v) { return x.byte < v; });
    if (e == last || e->byte != b) break;
    node = e->child;
    if (nodes_[node].token >= 0) {
      best = nodes_[node].token;
      best_len = static_cast<uint32_t>(i + 1 - pos);
    }
  }
  return {best, best_len};
}

void AddedTokenSplitter::split(std::string_view text, std::vector<TextSplit>& out,
                               bool skip_special) const {
  out.clear();
  if (text.empty()) return;
  size_t start_offset = 0;
  size_t pos = 0;
  const size_t n = text.size();
  if (!empty()) {
    while (pos < n) {
      if (only_first_byte_ >= 0) {
        const void* hit = std::memchr(text.data() + pos, only_first_byte_, n - pos);
        if (hit == nullptr) break;
        pos = static_cast<size_t>(static_cast<const char*>(hit) - text.data());
      } else if (!first_byte_[static_cast<unsigned char>(text[pos])]) {
        ++pos;
        continue;
      }
      auto [tok, len] = longest_at(text, pos);
      if (tok < 0) {
        ++pos;
        continue;
      }
      const AddedToken& t = *tokens_[tok];
      size_t start = pos, stop = pos + len;
      pos = stop;  // matches never overlap, even when rejected below
      if (skip_special && t.special) continue;
      if (t.single_word) {
        const bool start_ok = start == 0 || !is_rust_word_char(last_char(text, start));
        const bool stop_ok = stop == n || !is_rust_word_char(utf8::decode(text, stop).code_point);
        if (!start_ok || !stop_ok) continue;
      }
      if (t.lstrip) start = std::max(whitespace_run_start(text, start), start_offset);
      if (t.rstrip) stop = whitespace_run_end(text, stop);
      if (start_offset < start) {
        out.push_back(TextSplit{static_cast<uint32_t>(start_offset), static_cast<uint32_t>(start),
                                std::nullopt});
      }
      out.push_back(TextSplit{static_cast<uint32_t>(start), static_cast<uint32_t>(stop), t.id});
      start_offset = stop;
      // rstrip may have consumed past `pos`; HF's automaton would still scan
      // from the match end, but whitespace never starts a token we skip.
      if (stop > pos) pos = stop;
    }
  }
  if (start_offset != n) {
    out.push_back(TextSplit{static_cast<uint32_t>(start_offset), static_cast<uint32_t>(n),
                            std::nullopt});
  }
}

}  // namespace keel::tokenizer
