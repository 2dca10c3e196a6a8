// Strip (whitespace at either end) and Prepend (a prefix on non-empty text).
#include <memory>
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/normalizers/normalizers.h"
#include "keel/tokenizer/normalizers/unicode_props.h"

namespace keel::tokenizer {
namespace {

// Removes leading and/or trailing White_Space characters.
class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}

  // HF's lrstrip: the stripped characters are removed (the leading ones by
  // transform's initial offset, the trailing ones by the last kept one).
  Status normalize_aligned(AlignedString& s) const override {
    const std::vector<char32_t> chars = decode_chars(s.text);
    size_t leading = 0, trailing = 0;
    if (left_) {
      while (leading < chars.size() && unicode::is_whitespace(chars[leading])) ++leading;
    }
    if (right_) {
      while (trailing < chars.size() &&
             unicode::is_whitespace(chars[chars.size() - 1 - trailing])) {
        ++trailing;
      }
    }
    if (leading == 0 && trailing == 0) return OkStatus();
    std::vector<CharChange> changes;
    for (size_t i = leading; i + trailing < chars.size(); ++i) {
      const bool last_kept = i + trailing + 1 == chars.size();
      changes.push_back(CharChange{chars[i], last_kept ? -static_cast<int32_t>(trailing) : 0});
    }
    s.transform(changes, leading);
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    size_t begin = 0;
    size_t end = in.size();
    if (left_) {
      while (begin < end) {
        const utf8::Decoded d = utf8::decode(in, begin);
        if (!d.valid || !unicode::is_whitespace(d.code_point)) break;
        begin += d.length;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(in[start]) & 0xC0) == 0x80) --start;
        const utf8::Decoded d = utf8::decode(in, start);
        if (!d.valid || d.length != end - start || !unicode::is_whitespace(d.code_point)) break;
        end = start;
      }
    }
    out.assign(in.substr(begin, end - begin));
    return OkStatus();
  }

 private:
  bool left_;
  bool right_;
};

// Prepends a fixed string unless the text is empty.
class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prepend) : prepend_(std::move(prepend)) {}

  // HF: the prefix is aligned to the first character.
  Status normalize_aligned(AlignedString& s) const override {
    s.prepend(prepend_);
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    if (in.empty()) return OkStatus();
    out.reserve(prepend_.size() + in.size());
    out.append(prepend_);
    out.append(in);
    return OkStatus();
  }

 private:
  std::string prepend_;
};

}  // namespace

Result<std::unique_ptr<Normalizer>> make_strip_normalizer(const nlohmann::json& j,
                                                          const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const bool left, json::get_bool(j, "strip_left", path));
  KEEL_ASSIGN_OR_RETURN(const bool right, json::get_bool(j, "strip_right", path));
  return std::unique_ptr<Normalizer>(std::make_unique<StripNormalizer>(left, right));
}

Result<std::unique_ptr<Normalizer>> make_prepend_normalizer(const nlohmann::json& j,
                                                            const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string prepend, json::get_string(j, "prepend", path));
  return std::unique_ptr<Normalizer>(std::make_unique<PrependNormalizer>(std::move(prepend)));
}

}  // namespace keel::tokenizer
