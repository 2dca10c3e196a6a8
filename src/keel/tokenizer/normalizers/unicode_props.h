// Per-character properties the normalizers need, with HF tokenizers'
// semantics (Rust's char methods and the Unicode tables of HF's crates).
// Pure functions; thread-safe.
#pragma once

#include <string>

namespace keel::tokenizer::unicode {

// Rust char::is_whitespace (the White_Space property).
bool is_whitespace(char32_t cp);

// Appends Rust's char::to_lowercase(cp): the full lowercase mapping without
// context (so 'Σ' is always 'σ' and 'İ' is "i̇"), Unicode 17 like HF's Rust.
void append_lowercase(std::string& out, char32_t cp);

// General_Category Mark (Mn|Mc|Me) as HF's StripAccents sees it (Unicode 9.0).
bool is_combining_mark(char32_t cp);

// BertNormalizer's classes (unicode_categories crate, Unicode 8.0).
bool is_bert_nonspacing_mark(char32_t cp);
// Cc, Cf, Co except '\t', '\n', '\r' (Cn is never matched by that crate).
bool is_bert_control(char32_t cp);
// '\t', '\n', '\r' or White_Space.
bool is_bert_whitespace(char32_t cp);
// The CJK ideograph blocks BERT pads with spaces.
bool is_bert_chinese_char(char32_t cp);

}  // namespace keel::tokenizer::unicode
