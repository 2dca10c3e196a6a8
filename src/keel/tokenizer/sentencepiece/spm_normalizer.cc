#include "keel/tokenizer/sentencepiece/spm_normalizer.h"

#include <algorithm>
#include <array>
#include <vector>

#include "keel/core/utf8.h"

namespace keel::tokenizer::spm {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Contract: see spm_normalizer.h.
class SpmNormalizer final : public Normalizer {
 public:
  explicit SpmNormalizer(SpmNormalizerConfig config) : config_(std::move(config)) {
    // An ASCII byte that starts no charsmap rule and no USER_DEFINED piece
    // normalizes to itself (normalize_prefix would copy it as one character).
    for (int b = 0; b < 0x80; ++b) {
      const char c = static_cast<char>(b);
      plain_ascii_[b] = !config_.charsmap.starts_rule(c);
    }
    if (config_.vocab) {
      for (const auto& [piece, id] : config_.vocab->matchable()) {
        const auto first = static_cast<uint8_t>(piece[0]);
        if (config_.vocab->type(id) == PieceType::kUserDefined && first < 0x80) {
          plain_ascii_[first] = false;
        }
      }
    }
  }

  // normalize() with alignments, in the terms of the HF pipeline that
  // transformers' converters build for such a model (Precompiled, Prepend,
  // Replace): the i-th character of a rule's replacement maps to the i-th
  // character it consumed (extra ones to the last), an escaped space to its
  // space, the dummy prefix to the first character after it (as a suffix,
  // to the last before it); removed whitespace maps nowhere.
  Status normalize_aligned(AlignedString& s) const override {
    if (s.text.empty()) return OkStatus();
    const std::string src = std::move(s.text);
    const std::vector<Alignment> src_align = std::move(s.align);
    s.text.clear();
    s.align.clear();
    std::string& out = s.text;
    std::vector<Alignment>& out_align = s.align;
    const bool remove_extra = config_.remove_extra_whitespaces;
    size_t pos = 0;
    if (remove_extra) {
      while (pos < src.size()) {
        KEEL_ASSIGN_OR_RETURN(Prefix p, normalize_prefix(std::string_view(src).substr(pos)));
        if (p.replacement != " ") break;
        pos += p.consumed;
      }
    }
    if (pos == src.size()) return OkStatus();
    out.reserve((src.size() - pos) * 3);
    const std::string_view space = config_.escape_whitespaces ? kSpaceSymbol : " ";
    const bool prefix = config_.add_dummy_prefix && !config_.treat_whitespace_as_suffix;
    if (prefix) {
      out.append(space);  // aligned below, once the first character is known
      out_align.resize(space.size());
    }
    bool prev_space = remove_extra;
    std::vector<size_t> starts;  // character starts of the consumed chunk
    while (pos < src.size()) {
      KEEL_ASSIGN_OR_RETURN(Prefix p, normalize_prefix(std::string_view(src).substr(pos)));
      starts.clear();
      for (size_t i = pos; i < pos + p.consumed;) {
        starts.push_back(i);
        const int n = utf8::sequence_length(static_cast<unsigned char>(src[i]));
        i += n > 0 ? static_cast<size_t>(n) : 1;
      }
      const std::string_view sp = p.replacement;
      size_t skip = 0;
      if (prev_space) {
        while (skip < sp.size() && sp[skip] == ' ') ++skip;
      }
      size_t ci = 0;  // character index in the replacement
      for (size_t k = 0; k < sp.size(); ++ci) {
        const int n = utf8::sequence_length(static_cast<unsigned char>(sp[k]));
        const size_t len = std::min(n > 0 ? static_cast<size_t>(n) : 1, sp.size() - k);
        if (k >= skip) {
          const Alignment a = src_align[starts[std::min(ci, starts.size() - 1)]];
          const size_t before = out.size();
          if (sp[k] == ' ' && config_.escape_whitespaces) {
            out.append(kSpaceSymbol);
          } else {
            out.append(sp.substr(k, len));
          }
          out_align.insert(out_align.end(), out.size() - before, a);
        }
        k += len;
      }
      if (sp.size() > skip) prev_space = sp.back() == ' ';
      pos += p.consumed;
      if (!remove_extra) prev_space = false;
    }
    if (prefix) {
      const Alignment a = out_align.size() > space.size() ? out_align[space.size()]
                                                          : Alignment{s.orig_begin, s.orig_begin};
      std::fill(out_align.begin(), out_align.begin() + static_cast<std::ptrdiff_t>(space.size()),
                a);
    }
    if (remove_extra) {
      while (std::string_view(out).ends_with(space)) {
        out.resize(out.size() - space.size());
        out_align.resize(out.size());
      }
    }
    if (config_.add_dummy_prefix && config_.treat_whitespace_as_suffix) {
      const Alignment a = out_align.empty() ? Alignment{s.orig_end, s.orig_end} : out_align.back();
      out.append(space);
      out_align.insert(out_align.end(), space.size(), a);
    }
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    if (in.empty()) return OkStatus();
    const bool remove_extra = config_.remove_extra_whitespaces;
    if (remove_extra) {
      while (!in.empty()) {
        KEEL_ASSIGN_OR_RETURN(Prefix p, normalize_prefix(in));
        if (p.replacement != " ") break;
        in.remove_prefix(p.consumed);
      }
    }
    if (in.empty()) return OkStatus();
    out.reserve(in.size() * 3);
    const bool prefix = config_.add_dummy_prefix;
    if (prefix && !config_.treat_whitespace_as_suffix) add_space(out);
    bool prev_space = remove_extra;
    while (!in.empty()) {
      // Fast path: a run of plain ASCII bytes other than space is copied as
      // is; a plain space is the one-character rule " " (escaped, and
      // dropped after a space when removing extra whitespace).
      if (const auto b = static_cast<uint8_t>(in[0]); b < 0x80 && plain_ascii_[b]) {
        if (b == ' ') {
          if (!prev_space) add_space(out);
          prev_space = remove_extra;
          in.remove_prefix(1);
          continue;
        }
        size_t n = 1;
        while (n < in.size() && static_cast<uint8_t>(in[n]) < 0x80 &&
               plain_ascii_[static_cast<uint8_t>(in[n])] && in[n] != ' ') {
          ++n;
        }
        out.append(in.data(), n);
        prev_space = false;
        in.remove_prefix(n);
        continue;
      }
      KEEL_ASSIGN_OR_RETURN(Prefix p, normalize_prefix(in));
      std::string_view sp = p.replacement;
      if (prev_space) {
        while (!sp.empty() && sp.front() == ' ') sp.remove_prefix(1);
      }
      if (!sp.empty()) {
        for (char c : sp) {
          if (c == ' ' && config_.escape_whitespaces) {
            out.append(kSpaceSymbol);
          } else {
            out.push_back(c);
          }
        }
        prev_space = sp.back() == ' ';
      }
      in.remove_prefix(p.consumed);
      if (!remove_extra) prev_space = false;
    }
    if (remove_extra) {
      const std::string_view space = config_.escape_whitespaces ? kSpaceSymbol : " ";
      while (std::string_view(out).ends_with(space)) out.resize(out.size() - space.size());
    }
    if (prefix && config_.treat_whitespace_as_suffix) add_space(out);
    return OkStatus();
  }

 private:
  struct Prefix {
    std::string_view replacement;
    size_t consumed;
  };

  Result<Prefix> normalize_prefix(std::string_view in) const {
    if (config_.vocab) {
      const size_t n = config_.vocab->user_defined_prefix(in);
      if (n > 0) return Prefix{in.substr(0, n), n};
    }
    KEEL_ASSIGN_OR_RETURN(CharsMap::Rule rule, config_.charsmap.longest_rule(in));
    if (rule.length > 0) return Prefix{rule.replacement, rule.length};
    const utf8::Decoded d = utf8::decode(in, 0);
    if (!d.valid) return Prefix{kReplacementChar, 1};
    return Prefix{in.substr(0, d.length), d.length};
  }

  void add_space(std::string& out) const {
    if (config_.escape_whitespaces) {
      out.append(kSpaceSymbol);
    } else {
      out.push_back(' ');
    }
  }

  SpmNormalizerConfig config_;
  std::array<bool, 0x80> plain_ascii_{};  // see the constructor
};

}  // namespace

std::unique_ptr<Normalizer> make_spm_normalizer(SpmNormalizerConfig config) {
  return std::make_unique<SpmNormalizer>(std::move(config));
}

}  // namespace keel::tokenizer::spm
