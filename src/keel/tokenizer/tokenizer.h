// Tokenizer: HuggingFace-exact text ⇄ token ids.
//
// Loads tokenizer.json (optionally with tokenizer_config.json), a
// SentencePiece tokenizer.model, or a model folder holding either. A loaded
// Tokenizer is immutable; every method is safe to call from many threads at
// once. Copies are cheap and share the loaded tables (shared_ptr), which also
// keeps them alive for background tasks.
//
// Invalid UTF-8 input: by default encode() returns InvalidArgument naming the
// byte offset; with EncodeOptions::lossy_utf8 each ill-formed subpart is
// replaced by U+FFFD first.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "keel/core/clock.h"
#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

struct AddedToken {
  uint32_t id = 0;
  std::string content;
  bool special = false;
  bool normalized = false;  // matched after normalization (else on raw text)
  bool lstrip = false;      // swallow whitespace on the left
  bool rstrip = false;      // swallow whitespace on the right
  bool single_word = false; // only match at word boundaries
};

// Everything a loader produces; Tokenizer takes ownership. Any stage may be
// null except the model.
struct TokenizerParts {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<Model> model;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  std::vector<AddedToken> added_tokens;
  // From tokenizer_config.json (or the SentencePiece model's trainer spec).
  std::optional<std::string> bos_token, eos_token;
  // When set, override what the post-processor does with add_special_tokens:
  // add_bos_token / add_eos_token from tokenizer_config.json.
  std::optional<bool> add_bos_token, add_eos_token;
};

// A token's [start, end) in the input text.
using Offsets = std::pair<uint32_t, uint32_t>;

struct EncodeOptions {
  bool add_special_tokens = true;
  bool lossy_utf8 = false;  // replace ill-formed UTF-8 with U+FFFD instead of failing
  // Fill Encoding::offsets: for each token, the byte range of the input it
  // came from, as HF tokenizers computes it (see README.md "Offsets");
  // special tokens added by the post-processor get (0, 0). With lossy_utf8
  // the ranges index the input as given. Slower than plain encoding.
  bool offsets = false;
  // Treat special tokens that appear in the text as plain text (HF's
  // encode_special_tokens / transformers' split_special_tokens). This is
  // also what libsentencepiece does, which never matches control symbols.
  bool split_special_tokens = false;
};

struct Encoding {
  std::vector<uint32_t> ids;
  std::vector<Offsets> offsets;  // UTF-8 byte ranges; only if requested
};

// Converts byte offsets into `text` (Encoding::offsets of encoding `text`) to
// offsets in Unicode code points: what HF tokenizers' Python and Node
// bindings report (Rust chars; not UTF-16 units). An ill-formed UTF-8
// subpart counts as one code point (the U+FFFD lossy_utf8 reads it as).
std::vector<Offsets> to_char_offsets(std::string_view text, std::span<const Offsets> byte_offsets);

class Tokenizer {
 public:
  // `path` is a tokenizer.json, a tokenizer.model, or a folder containing
  // tokenizer.json (preferred) or tokenizer.model, with an optional
  // tokenizer_config.json beside it.
  static Result<Tokenizer> from_path(const std::string& path);
  // tokenizer.json text; `config_json` is tokenizer_config.json text or empty.
  static Result<Tokenizer> from_json(std::string_view tokenizer_json,
                                     std::string_view config_json = {});
  static Result<Tokenizer> from_parts(TokenizerParts parts);

  Result<std::vector<uint32_t>> encode(std::string_view text, bool add_special_tokens = true) const;
  Result<Encoding> encode(std::string_view text, const EncodeOptions& options) const;
  // Encodes texts in parallel on the global thread pool. Fails as a whole if
  // any text fails (naming its index) or the deadline passes.
  Result<std::vector<std::vector<uint32_t>>> encode_batch(
      const std::vector<std::string>& texts, bool add_special_tokens = true,
      Deadline deadline = Deadline::after(std::chrono::minutes(10))) const;
  // As above with full options (offsets are not returned by batches).
  Result<std::vector<std::vector<uint32_t>>> encode_batch(const std::vector<std::string>& texts,
                                                          const EncodeOptions& options,
                                                          Deadline deadline) const;

  // Ids the tokenizer does not know (model vocabulary padding) decode to
  // nothing, as in HF tokenizers.
  Result<std::string> decode(std::span<const uint32_t> ids, bool skip_special_tokens = false) const;

  std::optional<uint32_t> token_to_id(std::string_view token) const;
  std::optional<std::string> id_to_token(uint32_t id) const;
  // Model vocabulary plus added tokens.
  size_t vocab_size() const;
  std::optional<uint32_t> bos_id() const;
  std::optional<uint32_t> eos_id() const;
  bool is_special(uint32_t id) const;
  const std::vector<AddedToken>& added_tokens() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace keel::tokenizer
