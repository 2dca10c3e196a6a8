// NFC, NFD, NFKC, NFKD with HF tokenizers' results.
//
// utf8proc (Unicode 15) does the work; HF's tables are Unicode 9.0, so
// characters assigned since that take part in normalization are passed
// through untouched (they are starters without mappings in Unicode 9.0, so
// cutting the text at them is exact). Text that passes the quick check
// (every character <form>_QC=Yes with ccc 0) is copied unchanged; otherwise
// only the part from the last safe starter before the first unstable
// character is normalized.
#include <utf8proc.h>

#include <cstdlib>
#include <memory>

#include "keel/core/utf8.h"
#include "keel/tokenizer/normalizers/normalizers.h"
#include "keel/tokenizer/normalizers/unicode_tables.h"

namespace keel::tokenizer {
namespace {

// Normalizes valid UTF-8 into one of the four Unicode normalization forms.
// Immutable; thread-safe.
class UnicodeFormNormalizer final : public Normalizer {
 public:
  explicit UnicodeFormNormalizer(UnicodeForm form) : form_(form) {
    switch (form) {
      case UnicodeForm::kNfc:
        unstable_ = unicode::kNfcUnstableRanges;
        options_ = UTF8PROC_STABLE | UTF8PROC_COMPOSE;
        break;
      case UnicodeForm::kNfd:
        unstable_ = unicode::kNfdUnstableRanges;
        options_ = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE;
        break;
      case UnicodeForm::kNfkc:
        unstable_ = unicode::kNfkcUnstableRanges;
        options_ = UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
      case UnicodeForm::kNfkd:
        unstable_ = unicode::kNfkdUnstableRanges;
        options_ = UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
  }

  Status normalize(std::string_view in, std::string& out) const override {
    out.clear();
    const size_t first = first_unstable(in);
    if (first == std::string_view::npos) {
      out.assign(in);
      return OkStatus();
    }
    // Back up to the start of the preceding (stable) character: it may
    // compose with what follows, but nothing before it is affected.
    size_t start = first;
    if (start > 0) {
      --start;
      while (start > 0 && (static_cast<unsigned char>(in[start]) & 0xC0) == 0x80) --start;
    }
    out.reserve(in.size() + in.size() / 4);
    out.append(in.substr(0, start));
    return normalize_tail(in.substr(start), out);
  }

 private:
  // Byte offset of the first character that is not stable in this form.
  size_t first_unstable(std::string_view in) const {
    size_t i = 0;
    const size_t n = in.size();
    while (i < n) {
      while (i + 8 <= n) {
        uint64_t w;
        __builtin_memcpy(&w, in.data() + i, 8);
        if (w & 0x8080808080808080ull) break;
        i += 8;
      }
      if (i >= n) break;
      const auto b = static_cast<unsigned char>(in[i]);
      if (b < 0x80) {
        ++i;
        continue;
      }
      const utf8::Decoded d = utf8::decode(in, i);
      if (!d.valid || unicode::in_ranges(unstable_, d.code_point)) return i;
      i += d.length;
    }
    return std::string_view::npos;
  }

  // Normalizes `text`, passing characters newer than HF's tables through.
  Status normalize_tail(std::string_view text, std::string& out) const {
    size_t segment_begin = 0;
    size_t i = 0;
    while (i < text.size()) {
      const utf8::Decoded d = utf8::decode(text, i);
      if (!d.valid) {
        return InvalidArgumentError("{} normalizer: input is not valid UTF-8 at byte {}", name(),
                                    i);
      }
      if (d.code_point >= 0x7FD && unicode::in_ranges(unicode::kPostU9NormalizationRanges,
                                                      d.code_point)) {
        KEEL_RETURN_IF_ERROR(map_segment(text.substr(segment_begin, i - segment_begin), out));
        out.append(text.substr(i, d.length));
        segment_begin = i + d.length;
      }
      i += d.length;
    }
    return map_segment(text.substr(segment_begin), out);
  }

  Status map_segment(std::string_view segment, std::string& out) const {
    if (segment.empty()) return OkStatus();
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t len =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(segment.data()),
                     static_cast<utf8proc_ssize_t>(segment.size()), &mapped,
                     static_cast<utf8proc_option_t>(options_));
    if (len < 0) {
      return InvalidArgumentError("{} normalizer: {}", name(), utf8proc_errmsg(len));
    }
    out.append(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
    std::free(mapped);
    return OkStatus();
  }

  const char* name() const {
    switch (form_) {
      case UnicodeForm::kNfc: return "NFC";
      case UnicodeForm::kNfd: return "NFD";
      case UnicodeForm::kNfkc: return "NFKC";
      case UnicodeForm::kNfkd: return "NFKD";
    }
    return "Unicode";
  }

  UnicodeForm form_;
  std::span<const unicode::CodePointRange> unstable_;
  int options_ = 0;
};

}  // namespace

std::unique_ptr<Normalizer> make_unicode_form_normalizer(UnicodeForm form) {
  return std::make_unique<UnicodeFormNormalizer>(form);
}

}  // namespace keel::tokenizer
