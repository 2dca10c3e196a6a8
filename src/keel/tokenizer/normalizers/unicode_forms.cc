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

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

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

  // HF's NormalizedString::nfd/nfkd/nfc/nfkc: the characters of the
  // unicode-normalization-alignments crate (decomposition, canonical
  // reordering and recomposition carrying each character's change) through
  // transform(). Characters newer than HF's Unicode 9 tables are starters
  // that neither decompose nor compose, as in normalize().
  Status normalize_aligned(AlignedString& s) const override {
    struct Item {
      uint8_t ccc;
      bool frozen;  // newer than Unicode 9: never composes
      char32_t c;
      int32_t change;
    };
    // Characters before the last stable starter preceding the first unstable
    // one come out unchanged with change 0, which leaves their alignments
    // as they are: only the rest is rewritten (as normalize() does), unless
    // the string starts with an empty alignment, where HF's transform()
    // range starts later.
    size_t start = 0;
    if (s.align.empty() || s.align.front().begin != s.align.front().end) {
      start = first_unstable(s.text);
      if (start == std::string_view::npos) return OkStatus();
      if (start > 0) {
        --start;
        while (start > 0 && (static_cast<unsigned char>(s.text[start]) & 0xC0) == 0x80) --start;
      }
    }
    std::vector<Item> items;
    items.reserve(s.text.size() - start);
    size_t pending = 0;  // start of the run not yet canonically ordered
    auto sort_pending = [&] {
      std::stable_sort(items.begin() + static_cast<std::ptrdiff_t>(pending), items.end(),
                       [](const Item& a, const Item& b) { return a.ccc < b.ccc; });
      pending = items.size();
    };
    auto push = [&](char32_t c, bool frozen, int32_t change) {
      const uint8_t ccc = frozen ? 0 : combining_class(c);
      if (ccc == 0) sort_pending();
      items.push_back(Item{ccc, frozen, c, change});
    };
    const bool compat = form_ == UnicodeForm::kNfkc || form_ == UnicodeForm::kNfkd;
    const auto decompose_options = static_cast<utf8proc_option_t>(
        UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
    for (size_t i = start; i < s.text.size();) {
      const utf8::Decoded d = utf8::decode(s.text, i);
      if (!d.valid) {
        return InvalidArgumentError("{} normalizer: input is not valid UTF-8 at byte {}", name(),
                                    i);
      }
      i += d.length;
      if (d.code_point >= 0x7FD &&
          unicode::in_ranges(unicode::kPostU9NormalizationRanges, d.code_point)) {
        push(d.code_point, true, 0);
        continue;
      }
      utf8proc_int32_t buf[32];
      int boundclass = 0;
      const utf8proc_ssize_t n =
          utf8proc_decompose_char(static_cast<utf8proc_int32_t>(d.code_point), buf, 32,
                                  decompose_options, &boundclass);
      if (n < 0 || n > 32) {
        return InvalidArgumentError("{} normalizer: cannot decompose U+{:04X}", name(),
                                    static_cast<uint32_t>(d.code_point));
      }
      for (utf8proc_ssize_t k = 0; k < n; ++k) {
        push(static_cast<char32_t>(buf[k]), false, k > 0 ? 1 : 0);
      }
    }
    sort_pending();
    std::vector<CharChange> changes;
    changes.reserve(items.size());
    if (form_ == UnicodeForm::kNfd || form_ == UnicodeForm::kNfkd) {
      for (const Item& it : items) changes.push_back(CharChange{it.c, it.change});
    } else {
      recompose(items, changes);
    }
    if (start > 0) {
      s.transform_range(start, s.text.size(), changes, 0);
    } else {
      s.transform(changes, 0);
    }
    return OkStatus();
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

  static uint8_t combining_class(char32_t c) {
    return static_cast<uint8_t>(
        utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class);
  }

  // The primary composite of `a` and `b`, if any.
  static std::optional<char32_t> compose(char32_t a, char32_t b) {
    utf8proc_int32_t pair[2] = {static_cast<utf8proc_int32_t>(a),
                                static_cast<utf8proc_int32_t>(b)};
    // STABLE: respect composition exclusions.
    const utf8proc_ssize_t n = utf8proc_normalize_utf32(
        pair, 2, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n != 1) return std::nullopt;
    return static_cast<char32_t>(pair[0]);
  }

  // The crate's Recompositions over (char, change) items: a composed
  // character's change is the sum of both changes minus one; blocked marks
  // wait in a buffer and follow their starter.
  template <typename Item>
  static void recompose(const std::vector<Item>& items, std::vector<CharChange>& out) {
    std::vector<CharChange> buffer;
    std::optional<Item> composee;
    std::optional<uint8_t> last_ccc;
    auto flush_buffer = [&] {
      out.insert(out.end(), buffer.begin(), buffer.end());
      buffer.clear();
    };
    auto try_compose = [&](const Item& ch) -> bool {
      if (composee->frozen || ch.frozen) return false;
      const auto r = compose(composee->c, ch.c);
      if (!r) return false;
      composee->c = *r;
      composee->change = composee->change + ch.change - 1;
      return true;
    };
    for (const Item& ch : items) {
      if (!composee) {
        if (ch.ccc != 0) {
          out.push_back(CharChange{ch.c, ch.change});
          continue;
        }
        composee = ch;
        continue;
      }
      if (!last_ccc) {
        if (try_compose(ch)) continue;
        if (ch.ccc == 0) {
          out.push_back(CharChange{composee->c, composee->change});
          composee = ch;
          continue;
        }
        buffer.push_back(CharChange{ch.c, ch.change});
        last_ccc = ch.ccc;
        continue;
      }
      if (*last_ccc >= ch.ccc) {
        // Blocked from the composee.
        if (ch.ccc == 0) {
          out.push_back(CharChange{composee->c, composee->change});
          composee = ch;
          last_ccc.reset();
          flush_buffer();
          continue;
        }
        buffer.push_back(CharChange{ch.c, ch.change});
        last_ccc = ch.ccc;
        continue;
      }
      if (try_compose(ch)) continue;
      buffer.push_back(CharChange{ch.c, ch.change});
      last_ccc = ch.ccc;
    }
    if (composee) out.push_back(CharChange{composee->c, composee->change});
    flush_buffer();
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
