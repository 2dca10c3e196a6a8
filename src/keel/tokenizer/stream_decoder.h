// StreamDecoder: turns a growing sequence of generated ids into text pieces
// that are safe to send as they come.
//
// Contract: the concatenation of everything step() and finish() return equals
// decode(all ids), and no returned piece ends inside a UTF-8 character or
// in a multi-token character that is still incomplete. Leading-space rules of
// Metaspace/Strip decoders are honoured by decoding a small window of
// preceding ids and emitting only the difference (as HF's DecodeStream).
// Text is held back while the window's decoding ends in U+FFFD (an
// incomplete byte sequence), for at most kMaxHeldTokens tokens; after that it
// is emitted anyway, so a model that really generates U+FFFD cannot stall the
// stream. Not thread-safe: one StreamDecoder per sequence.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "keel/tokenizer/tokenizer.h"

namespace keel::tokenizer {

class StreamDecoder {
 public:
  static constexpr size_t kMaxHeldTokens = 8;

  explicit StreamDecoder(Tokenizer tokenizer, bool skip_special_tokens = true);

  // Adds one id; returns the text that became final (often empty).
  Result<std::string> step(uint32_t id);
  // Returns whatever is still held back (ill-formed bytes become U+FFFD).
  Result<std::string> finish();

 private:
  Tokenizer tokenizer_;
  bool skip_special_;
  std::vector<uint32_t> ids_;  // window: [0, prefix_index_) already emitted context
  size_t prefix_index_ = 0;
  std::string prefix_;         // decode(ids_[0, prefix_index_... current window])
  size_t held_ = 0;
};

}  // namespace keel::tokenizer
