#include "keel/tokenizer/sentencepiece/precompiled.h"

#include <utf8proc.h>

#include <nlohmann/json.hpp>

#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/sentencepiece/charsmap.h"

namespace keel::tokenizer {
namespace {

// HF tokenizers' Precompiled normalizer. For each extended grapheme cluster:
// if it is shorter than 6 bytes and a rule matches a prefix of it, the whole
// cluster becomes that rule's replacement; otherwise each character is
// replaced by its own rule, or kept. (This is HF's behaviour, verified by
// them against XNLI with mBART/XLM-R/Marian; libsentencepiece instead uses
// the longest rule at each byte position, see SpmNormalizer.)
class PrecompiledNormalizer final : public Normalizer {
 public:
  explicit PrecompiledNormalizer(spm::CharsMap map) : map_(std::move(map)) {}

  // HF's Precompiled::normalize with its `replace` helper: a replacement's
  // characters replace the old ones one for one; extra new characters are
  // inserted after them, or the last new character absorbs the extra old
  // ones (the previous character does, if the replacement is empty). The
  // string is only transformed if some rule applied.
  Status normalize_aligned(AlignedString& s) const override {
    if (map_.empty()) return OkStatus();
    std::vector<CharChange> changes;
    changes.reserve(s.text.size());
    bool modified = false;
    auto replace = [&](std::string_view old_part, std::string_view new_part) {
      int32_t old_count = 0;
      for (char c : old_part) old_count += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
      const size_t first = changes.size();
      append_changes(new_part, 0, changes);
      const auto diff = static_cast<int32_t>(changes.size() - first) - old_count;
      if (diff > 0) {
        for (size_t k = changes.size() - static_cast<size_t>(diff); k < changes.size(); ++k) {
          changes[k].change = 1;
        }
      } else if (diff < 0 && !changes.empty()) {
        changes.back().change += diff;
      }
    };
    const std::string_view in = s.text;
    size_t pos = 0;
    while (pos < in.size()) {
      const size_t end = grapheme_end(in, pos);
      const std::string_view grapheme = in.substr(pos, end - pos);
      pos = end;
      if (grapheme.size() < 6) {
        KEEL_ASSIGN_OR_RETURN(auto rule, map_.first_rule(grapheme));
        if (rule) {
          modified = true;
          replace(grapheme, *rule);
          continue;
        }
      }
      size_t i = 0;
      while (i < grapheme.size()) {
        const utf8::Decoded d = utf8::decode(grapheme, i);
        const std::string_view ch = grapheme.substr(i, d.length);
        i += d.length;
        KEEL_ASSIGN_OR_RETURN(auto rule, map_.first_rule(ch));
        if (rule) {
          modified = true;
          replace(ch, *rule);
        } else {
          changes.push_back(CharChange{d.code_point, 0});
        }
      }
    }
    if (modified) s.transform(changes, 0);
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    if (map_.empty()) {
      out.assign(in);
      return OkStatus();
    }
    out.reserve(in.size());
    size_t pos = 0;
    while (pos < in.size()) {
      const size_t end = grapheme_end(in, pos);
      const std::string_view grapheme = in.substr(pos, end - pos);
      pos = end;
      if (grapheme.size() < 6) {
        KEEL_ASSIGN_OR_RETURN(auto rule, map_.first_rule(grapheme));
        if (rule) {
          out.append(*rule);
          continue;
        }
      }
      size_t i = 0;
      while (i < grapheme.size()) {
        const utf8::Decoded d = utf8::decode(grapheme, i);
        const std::string_view ch = grapheme.substr(i, d.length);
        i += d.length;
        KEEL_ASSIGN_OR_RETURN(auto rule, map_.first_rule(ch));
        out.append(rule ? *rule : ch);
      }
    }
    return OkStatus();
  }

 private:
  // End of the extended grapheme cluster that starts at `pos`.
  static size_t grapheme_end(std::string_view s, size_t pos) {
    utf8proc_int32_t state = 0;
    utf8::Decoded d = utf8::decode(s, pos);
    auto prev = static_cast<utf8proc_int32_t>(d.code_point);
    size_t i = pos + d.length;
    while (i < s.size()) {
      d = utf8::decode(s, i);
      const auto cp = static_cast<utf8proc_int32_t>(d.code_point);
      if (utf8proc_grapheme_break_stateful(prev, cp, &state)) break;
      prev = cp;
      i += d.length;
    }
    return i;
  }

  spm::CharsMap map_;
};

int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with optional '=' padding.
Result<std::string> base64_decode(std::string_view in, const std::string& path) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = base64_value(static_cast<unsigned char>(in[i]));
    if (v < 0) {
      return InvalidArgumentError("{}: invalid base64 character at offset {}", path, i);
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i) {
    if (in[i] != '=') {
      return InvalidArgumentError("{}: invalid base64: data after '=' padding at offset {}", path,
                                  i);
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(std::string_view charsmap) {
  KEEL_ASSIGN_OR_RETURN(spm::CharsMap map, spm::CharsMap::parse(charsmap));
  return std::unique_ptr<Normalizer>(std::make_unique<PrecompiledNormalizer>(std::move(map)));
}

Result<std::unique_ptr<Normalizer>> make_precompiled_normalizer(const nlohmann::json& j,
                                                               const std::string& path) {
  const std::string field = json::child_path(path, "precompiled_charsmap");
  KEEL_ASSIGN_OR_RETURN(std::string encoded, json::get_string(j, "precompiled_charsmap", path));
  KEEL_ASSIGN_OR_RETURN(std::string blob, base64_decode(encoded, field));
  auto map = spm::CharsMap::parse(blob);
  if (!map.ok()) return InvalidArgumentError("{}: {}", field, map.status().message());
  return std::unique_ptr<Normalizer>(
      std::make_unique<PrecompiledNormalizer>(std::move(map).value()));
}

}  // namespace keel::tokenizer
