// BertNormalizer: BERT's text cleanup, in HF's order: clean_text,
// handle_chinese_chars, strip_accents (NFD, then drop Mn), lowercase.
#include <nlohmann/json.hpp>

#include <memory>
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/normalizers/normalizers.h"
#include "keel/tokenizer/normalizers/unicode_props.h"

namespace keel::tokenizer {
namespace {

struct BertOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;
  bool lowercase = true;
};

// See the file comment. Character classes use the Unicode 8.0 tables of HF's
// unicode_categories crate (unicode_props.h). Immutable; thread-safe.
class BertNormalizer final : public Normalizer {
 public:
  explicit BertNormalizer(BertOptions options)
      : options_(options),
        nfd_(make_unicode_form_normalizer(UnicodeForm::kNfd)),
        lowercase_(make_lowercase_normalizer()) {}

  // HF's steps one by one: filter + map (clean_text), chinese padding (the
  // spaces around an ideograph take its alignment), NFD + filter
  // (strip_accents), lowercase.
  Status normalize_aligned(AlignedString& s) const override {
    if (options_.clean_text) {
      filter_chars(s, [](char32_t c) {
        return !(c == 0 || c == 0xFFFD || unicode::is_bert_control(c));
      });
      map_chars(s, [](char32_t c) { return unicode::is_bert_whitespace(c) ? U' ' : c; });
    }
    if (options_.handle_chinese_chars) {
      std::vector<CharChange> changes;
      changes.reserve(s.text.size());
      for (char32_t c : decode_chars(s.text)) {
        if (unicode::is_bert_chinese_char(c)) {
          changes.push_back(CharChange{U' ', 0});
          changes.push_back(CharChange{c, 1});
          changes.push_back(CharChange{U' ', 1});
        } else {
          changes.push_back(CharChange{c, 0});
        }
      }
      s.transform(changes, 0);
    }
    if (options_.strip_accents) {
      KEEL_RETURN_IF_ERROR(nfd_->normalize_aligned(s));
      filter_chars(s, [](char32_t c) { return !unicode::is_bert_nonspacing_mark(c); });
    }
    if (options_.lowercase) return lowercase_->normalize_aligned(s);
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    std::string cleaned;
    cleaned.reserve(in.size());
    size_t i = 0;
    while (i < in.size()) {
      const utf8::Decoded d = utf8::decode(in, i);
      if (!d.valid) {
        return InvalidArgumentError("BertNormalizer: input is not valid UTF-8 at byte {}", i);
      }
      const char32_t cp = d.code_point;
      const std::string_view bytes = in.substr(i, d.length);
      i += d.length;
      if (options_.clean_text) {
        if (cp == 0 || cp == 0xFFFD || unicode::is_bert_control(cp)) continue;
        if (unicode::is_bert_whitespace(cp)) {
          cleaned.push_back(' ');
          continue;
        }
      }
      if (options_.handle_chinese_chars && unicode::is_bert_chinese_char(cp)) {
        cleaned.push_back(' ');
        cleaned.append(bytes);
        cleaned.push_back(' ');
        continue;
      }
      cleaned.append(bytes);
    }
    if (options_.strip_accents) {
      std::string decomposed;
      KEEL_RETURN_IF_ERROR(nfd_->normalize(cleaned, decomposed));
      cleaned.clear();
      size_t k = 0;
      while (k < decomposed.size()) {
        const utf8::Decoded d = utf8::decode(decomposed, k);
        if (!unicode::is_bert_nonspacing_mark(d.code_point)) {
          cleaned.append(decomposed, k, d.length);
        }
        k += d.length;
      }
    }
    if (options_.lowercase) return lowercase_->normalize(cleaned, out);
    out = std::move(cleaned);
    return OkStatus();
  }

 private:
  BertOptions options_;
  std::unique_ptr<Normalizer> nfd_;
  std::unique_ptr<Normalizer> lowercase_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> make_bert_normalizer(const nlohmann::json& j,
                                                         const std::string& path) {
  BertOptions o;
  KEEL_ASSIGN_OR_RETURN(o.clean_text, json::get_bool(j, "clean_text", path));
  KEEL_ASSIGN_OR_RETURN(o.handle_chinese_chars, json::get_bool(j, "handle_chinese_chars", path));
  KEEL_ASSIGN_OR_RETURN(o.lowercase, json::get_bool(j, "lowercase", path));
  // strip_accents: null or absent means "same as lowercase" (BERT's rule).
  const auto it = j.find("strip_accents");
  if (it == j.end() || it->is_null()) {
    o.strip_accents = o.lowercase;
  } else {
    KEEL_ASSIGN_OR_RETURN(o.strip_accents, json::get_bool(j, "strip_accents", path));
  }
  return std::unique_ptr<Normalizer>(std::make_unique<BertNormalizer>(o));
}

}  // namespace keel::tokenizer
