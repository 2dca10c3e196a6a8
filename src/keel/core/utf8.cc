#include "keel/core/utf8.h"

namespace keel::utf8 {

Decoded decode(std::string_view s, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + pos;
  const size_t avail = s.size() - pos;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1, true};
  const int n = sequence_length(b0);
  if (n == 0) return {0xFFFD, 1, false};
  // Valid range of the second byte depends on the lead byte (Table 3-7).
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 == 0xE0) lo = 0xA0;
  else if (b0 == 0xED) hi = 0x9F;
  else if (b0 == 0xF0) lo = 0x90;
  else if (b0 == 0xF4) hi = 0x8F;
  char32_t cp = b0 & (0xFF >> (n + 1));
  for (int i = 1; i < n; ++i) {
    if (static_cast<size_t>(i) >= avail) return {0xFFFD, static_cast<uint8_t>(i), false};
    const unsigned char b = p[i];
    const unsigned char l = (i == 1) ? lo : 0x80;
    const unsigned char h = (i == 1) ? hi : 0xBF;
    if (b < l || b > h) return {0xFFFD, static_cast<uint8_t>(i), false};
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, static_cast<uint8_t>(n), true};
}

size_t find_invalid(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // Fast path: 8 ASCII bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    Decoded d = decode(s, i);
    if (!d.valid) return i;
    i += d.length;
  }
  return std::string_view::npos;
}

Status validate(std::string_view s) {
  size_t bad = find_invalid(s);
  if (bad == std::string_view::npos) return OkStatus();
  return InvalidArgumentError(
      "text is not valid UTF-8: ill-formed byte 0x{:02X} at byte offset {}; send UTF-8 text, "
      "or ask for lossy replacement with U+FFFD",
      static_cast<unsigned char>(s[bad]), bad);
}

std::string to_valid_lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    Decoded d = decode(s, i);
    if (d.valid) {
      out.append(s.data() + i, d.length);
    } else {
      out.append("\xEF\xBF\xBD");
    }
    i += d.length;
  }
  return out;
}

void append(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t complete_prefix_length(std::string_view s) {
  // Look back at most 3 bytes for an unfinished (but so far valid) sequence.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t start = n - back;
    const auto b = static_cast<unsigned char>(s[start]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: look further back
    const int len = sequence_length(b);
    if (len > static_cast<int>(back)) {
      Decoded d = decode(s, start);
      // Truncated-but-valid-so-far: d.length equals the bytes available.
      if (!d.valid && d.length == back) return start;
    }
    return n;
  }
  return n;
}

}  // namespace keel::utf8
