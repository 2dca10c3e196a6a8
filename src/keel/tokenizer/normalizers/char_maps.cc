// Normalizers that map or drop one character at a time: Lowercase,
// StripAccents, NMT and ByteLevel.
#include <memory>
#include <vector>

#include "keel/core/utf8.h"
#include "keel/tokenizer/normalizers/normalizers.h"
#include "keel/tokenizer/normalizers/unicode_props.h"
#include "keel/tokenizer/pre_tokenizers/byte_level_alphabet.h"

namespace keel::tokenizer {
namespace {

// Calls `fn(code_point, bytes)` for each character of valid UTF-8 `in`.
template <typename Fn>
Status for_each_char(std::string_view in, const char* stage, Fn&& fn) {
  size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      fn(static_cast<char32_t>(b), in.substr(i, 1));
      ++i;
      continue;
    }
    const utf8::Decoded d = utf8::decode(in, i);
    if (!d.valid) {
      return InvalidArgumentError("{} normalizer: input is not valid UTF-8 at byte {}", stage, i);
    }
    fn(d.code_point, in.substr(i, d.length));
    i += d.length;
  }
  return OkStatus();
}

// Rust's char::to_lowercase on every character (no context: final sigma is
// 'σ'). ASCII is mapped in place without decoding. Aligned (HF's lowercase):
// the first character of a mapping replaces the source character, the others
// are inserted after it.
class LowercaseNormalizer final : public Normalizer {
 public:
  Status normalize_aligned(AlignedString& s) const override {
    std::vector<CharChange> changes;
    changes.reserve(s.text.size());
    std::string mapped;
    KEEL_RETURN_IF_ERROR(for_each_char(s.text, "Lowercase", [&](char32_t cp, std::string_view) {
      mapped.clear();
      if (cp < 0x80) {
        changes.push_back(CharChange{cp >= 'A' && cp <= 'Z' ? cp + 32 : cp, 0});
        return;
      }
      unicode::append_lowercase(mapped, cp);
      const size_t first = changes.size();
      append_changes(mapped, 1, changes);
      if (changes.size() > first) changes[first].change = 0;
    }));
    s.transform(changes, 0);
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    out.reserve(in.size());
    return for_each_char(in, "Lowercase", [&](char32_t cp, std::string_view bytes) {
      if (cp < 0x80) {
        out.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp));
      } else if (cp < 0xC0) {
        out.append(bytes);  // U+0080..U+00BF have no lowercase mapping.
      } else {
        unicode::append_lowercase(out, cp);
      }
    });
  }
};

// Removes combining marks (General_Category M*, Unicode 9.0). Does not
// decompose: precede it with NFD/NFKD to strip accents from precomposed text.
class StripAccentsNormalizer final : public Normalizer {
 public:
  Status normalize_aligned(AlignedString& s) const override {
    filter_chars(s, [](char32_t cp) { return !unicode::is_combining_mark(cp); });
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    out.reserve(in.size());
    return for_each_char(in, "StripAccents", [&](char32_t cp, std::string_view bytes) {
      if (!unicode::is_combining_mark(cp)) out.append(bytes);
    });
  }
};

// SentencePiece's NMT rules: drops ASCII control characters (except the
// whitespace ones) and maps other whitespace-like characters to ' '.
class NmtNormalizer final : public Normalizer {
 public:
  // HF's do_nmt: a filter, then a map.
  Status normalize_aligned(AlignedString& s) const override {
    filter_chars(s, [](char32_t cp) {
      return !((cp >= 0x01 && cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) ||
               cp == 0x7F || cp == 0x8F || cp == 0x9F);
    });
    map_chars(s, [](char32_t cp) -> char32_t {
      if (cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680 ||
          (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 ||
          cp == 0xFEFF || cp == 0xFFFD) {
        return ' ';
      }
      return cp;
    });
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    out.reserve(in.size());
    return for_each_char(in, "NMT", [&](char32_t cp, std::string_view bytes) {
      if ((cp >= 0x01 && cp <= 0x08) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) ||
          cp == 0x7F || cp == 0x8F || cp == 0x9F) {
        return;
      }
      if (cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680 ||
          (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 ||
          cp == 0xFEFF || cp == 0xFFFD) {
        out.push_back(' ');
        return;
      }
      out.append(bytes);
    });
  }
};

// Rewrites every byte as its GPT-2 byte-level alphabet character.
class ByteLevelNormalizer final : public Normalizer {
 public:
  // HF: each byte's alphabet character; a character's first byte replaces
  // it, the others are inserted after it.
  Status normalize_aligned(AlignedString& s) const override {
    if (s.text.empty()) return OkStatus();
    std::vector<CharChange> changes;
    changes.reserve(s.text.size());
    for (size_t i = 0; i < s.text.size(); ++i) {
      const auto b = static_cast<uint8_t>(s.text[i]);
      changes.push_back(CharChange{byte_level::byte_to_char(b), (b & 0xC0) == 0x80 ? 1 : 0});
    }
    s.transform(changes, 0);
    return OkStatus();
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    out.reserve(in.size() * 2);
    char buf[2];
    for (char c : in) {
      const int n = byte_level::byte_to_utf8(static_cast<uint8_t>(c), buf);
      out.append(buf, static_cast<size_t>(n));
    }
    return OkStatus();
  }
};

}  // namespace

std::unique_ptr<Normalizer> make_lowercase_normalizer() {
  return std::make_unique<LowercaseNormalizer>();
}
std::unique_ptr<Normalizer> make_strip_accents_normalizer() {
  return std::make_unique<StripAccentsNormalizer>();
}
std::unique_ptr<Normalizer> make_nmt_normalizer() { return std::make_unique<NmtNormalizer>(); }
std::unique_ptr<Normalizer> make_byte_level_normalizer() {
  return std::make_unique<ByteLevelNormalizer>();
}

}  // namespace keel::tokenizer
