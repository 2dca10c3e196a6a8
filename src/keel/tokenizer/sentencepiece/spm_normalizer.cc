#include "keel/tokenizer/sentencepiece/spm_normalizer.h"

#include "keel/core/utf8.h"

namespace keel::tokenizer::spm {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Contract: see spm_normalizer.h.
class SpmNormalizer final : public Normalizer {
 public:
  explicit SpmNormalizer(SpmNormalizerConfig config) : config_(std::move(config)) {}

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
};

}  // namespace

std::unique_ptr<Normalizer> make_spm_normalizer(SpmNormalizerConfig config) {
  return std::make_unique<SpmNormalizer>(std::move(config));
}

}  // namespace keel::tokenizer::spm
