#include "keel/tokenizer/tokenizer.h"

#include <algorithm>
#include <atomic>

#include "keel/core/thread_pool.h"
#include "keel/core/utf8.h"
#include "keel/tokenizer/tokenizer_impl.h"

namespace keel::tokenizer {

Result<std::shared_ptr<const Tokenizer::Impl>> Tokenizer::Impl::create(TokenizerParts parts) {
  if (parts.model == nullptr) return InvalidArgumentError("tokenizer has no model");
  auto impl = std::make_shared<Impl>();
  impl->parts = std::move(parts);
  Impl& m = *impl;
  m.vocab_size = m.parts.model->vocab_size();
  for (size_t i = 0; i < m.parts.added_tokens.size(); ++i) {
    const AddedToken& t = m.parts.added_tokens[i];
    if (t.content.empty()) {
      return InvalidArgumentError("added token with id {} has empty content", t.id);
    }
    if (Status s = utf8::validate(t.content); !s.ok()) {
      return InvalidArgumentError("added token with id {}: {}", t.id, s.message());
    }
    m.added_by_content.emplace(t.content, t.id);
    m.added_by_id.emplace(t.id, i);
    if (t.special) m.special_contents.insert(t.content);
    m.vocab_size = std::max<size_t>(m.vocab_size, size_t{t.id} + 1);
  }
  // As HF: special tokens first, then the others; split by `normalized`.
  std::vector<const AddedToken*> raw;
  std::vector<size_t> normalized_idx;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < m.parts.added_tokens.size(); ++i) {
      const AddedToken& t = m.parts.added_tokens[i];
      if (t.special != (pass == 0)) continue;
      if (t.normalized) normalized_idx.push_back(i);
      else raw.push_back(&t);
    }
  }
  m.normalized_tokens.reserve(normalized_idx.size());
  for (size_t i : normalized_idx) {
    AddedToken t = m.parts.added_tokens[i];
    if (m.parts.normalizer) {
      std::string out;
      KEEL_RETURN_IF_ERROR(m.parts.normalizer->normalize(t.content, out));
      t.content = std::move(out);
    }
    m.normalized_tokens.push_back(std::move(t));
  }
  std::vector<const AddedToken*> normalized;
  for (const AddedToken& t : m.normalized_tokens) normalized.push_back(&t);
  m.raw_splitter = std::make_unique<AddedTokenSplitter>(raw);
  m.normalized_splitter = std::make_unique<AddedTokenSplitter>(normalized);
  auto lookup = [&m](const std::optional<std::string>& s) -> std::optional<uint32_t> {
    if (!s) return std::nullopt;
    if (auto it = m.added_by_content.find(*s); it != m.added_by_content.end()) return it->second;
    return m.parts.model->token_to_id(*s);
  };
  m.bos_id = lookup(m.parts.bos_token);
  m.eos_id = lookup(m.parts.eos_token);
  m.needs_alignments = m.parts.normalizer && m.parts.pre_tokenizer &&
                       m.parts.pre_tokenizer->uses_original_start();
  return std::shared_ptr<const Impl>(std::move(impl));
}

Status Tokenizer::Impl::encode_plain(std::string_view text, uint32_t orig_begin,
                                     uint32_t orig_end, std::vector<uint32_t>& ids) const {
  thread_local PieceList pieces;
  pieces.clear();
  pieces.add_copy(text, orig_begin, orig_end);
  if (parts.pre_tokenizer) KEEL_RETURN_IF_ERROR(parts.pre_tokenizer->pre_tokenize(pieces));
  return parts.model->tokenize_pieces(pieces, ids);
}

Status Tokenizer::Impl::encode_segment(std::string_view text, uint32_t orig_begin,
                                       bool split_special, std::vector<uint32_t>& ids) const {
  const auto orig_end = static_cast<uint32_t>(orig_begin + text.size());
  thread_local std::string normalized;  // per-thread scratch: no allocation per call
  std::string_view seg = text;
  if (parts.normalizer) {
    KEEL_RETURN_IF_ERROR(parts.normalizer->normalize(text, normalized));
    seg = normalized;
  }
  if (seg.empty()) return OkStatus();
  if (normalized_splitter->empty()) return encode_plain(seg, orig_begin, orig_end, ids);
  thread_local std::vector<TextSplit> splits;
  normalized_splitter->split(seg, splits, split_special);
  const bool exact = seg.data() == text.data();
  for (const TextSplit& s : splits) {
    if (s.token_id) {
      ids.push_back(*s.token_id);
      continue;
    }
    const uint32_t b = exact ? orig_begin + s.begin : orig_begin;
    const uint32_t e = exact ? orig_begin + s.end : orig_end;
    KEEL_RETURN_IF_ERROR(encode_plain(seg.substr(s.begin, s.end - s.begin), b, e, ids));
  }
  return OkStatus();
}

Status Tokenizer::Impl::add_special_tokens(std::vector<uint32_t>& ids) const {
  if (parts.add_bos_token || parts.add_eos_token) {
    // tokenizer_config.json decides (transformers' slow-tokenizer flags).
    if (parts.add_bos_token.value_or(false)) {
      if (!bos_id) return FailedPreconditionError("add_bos_token is set but no bos_token is known");
      ids.insert(ids.begin(), *bos_id);
    }
    if (parts.add_eos_token.value_or(false)) {
      if (!eos_id) return FailedPreconditionError("add_eos_token is set but no eos_token is known");
      ids.push_back(*eos_id);
    }
    return OkStatus();
  }
  if (parts.post_processor) return parts.post_processor->process_single(ids, nullptr);
  return OkStatus();
}

Result<std::vector<uint32_t>> Tokenizer::encode(std::string_view text,
                                                bool add_special_tokens) const {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  KEEL_ASSIGN_OR_RETURN(Encoding e, encode(text, options));
  return std::move(e.ids);
}

Result<Encoding> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  if (text.size() > UINT32_MAX) {
    return InvalidArgumentError("text of {} bytes is too long to tokenize (limit 4 GiB)",
                                text.size());
  }
  if (options.offsets) return impl_->encode_with_offsets(text, options);
  if (impl_->needs_alignments) {
    KEEL_ASSIGN_OR_RETURN(Encoding e, impl_->encode_with_offsets(text, options));
    e.offsets.clear();
    return e;
  }
  std::string repaired;
  if (size_t bad = utf8::find_invalid(text); bad != std::string_view::npos) {
    if (!options.lossy_utf8) return utf8::validate(text);
    repaired = utf8::to_valid_lossy(text);
    text = repaired;
  }
  const Impl& m = *impl_;
  Encoding enc;
  enc.ids.reserve(text.size() / 3 + 4);
  if (m.raw_splitter->empty()) {
    KEEL_RETURN_IF_ERROR(m.encode_segment(text, 0, options.split_special_tokens, enc.ids));
  } else {
    thread_local std::vector<TextSplit> splits;
    m.raw_splitter->split(text, splits, options.split_special_tokens);
    for (const TextSplit& s : splits) {
      if (s.token_id) {
        enc.ids.push_back(*s.token_id);
      } else {
        KEEL_RETURN_IF_ERROR(m.encode_segment(text.substr(s.begin, s.end - s.begin), s.begin,
                                              options.split_special_tokens, enc.ids));
      }
    }
  }
  if (options.add_special_tokens) KEEL_RETURN_IF_ERROR(m.add_special_tokens(enc.ids));
  return enc;
}

Result<std::vector<std::vector<uint32_t>>> Tokenizer::encode_batch(
    const std::vector<std::string>& texts, bool add_special_tokens, Deadline deadline) const {
  EncodeOptions options;
  options.add_special_tokens = add_special_tokens;
  return encode_batch(texts, options, deadline);
}

Result<std::vector<std::vector<uint32_t>>> Tokenizer::encode_batch(
    const std::vector<std::string>& texts, const EncodeOptions& options, Deadline deadline) const {
  if (options.offsets) {
    return InvalidArgumentError("encode_batch does not return offsets; use encode() per text");
  }
  // Shared with the pool's tasks, which may outlive this call on a deadline.
  // The texts are copied into one arena (text i is [ends[i-1], ends[i])):
  // one allocation and one pass, on the caller's thread before any task runs.
  struct Batch {
    Tokenizer tokenizer;
    std::string arena;
    std::vector<size_t> ends;
    std::vector<std::vector<uint32_t>> ids;
    std::vector<Status> errors;
    EncodeOptions options;
    std::string_view text(size_t i) const {
      const size_t begin = i == 0 ? 0 : ends[i - 1];
      return std::string_view(arena).substr(begin, ends[i] - begin);
    }
  };
  auto batch = std::make_shared<Batch>(Batch{*this, {}, {}, {}, {}, options});
  size_t total = 0;
  for (const std::string& t : texts) total += t.size();
  batch->arena.reserve(total);
  batch->ends.reserve(texts.size());
  for (const std::string& t : texts) {
    batch->arena.append(t);
    batch->ends.push_back(batch->arena.size());
  }
  batch->ids.resize(texts.size());
  batch->errors.resize(texts.size());
  ThreadPool& pool = ThreadPool::global();
  // A few chunks per thread balances uneven texts without per-text overhead.
  const size_t chunks = std::min(texts.size(), static_cast<size_t>(pool.num_threads()) * 8);
  Status s = pool.parallel_for(
      chunks,
      [batch, chunks](size_t c) {
        const size_t n = batch->ends.size();
        for (size_t i = c * n / chunks; i < (c + 1) * n / chunks; ++i) {
          auto r = batch->tokenizer.encode(batch->text(i), batch->options);
          if (r.ok()) batch->ids[i] = std::move(r->ids);
          else batch->errors[i] = r.status();
        }
      },
      deadline);
  if (!s.ok()) return s.with_context("encode_batch");
  for (size_t i = 0; i < texts.size(); ++i) {
    if (!batch->errors[i].ok()) return batch->errors[i].with_context(fmt::format("text {}", i));
  }
  return std::move(batch->ids);
}

Result<std::string> Tokenizer::decode(std::span<const uint32_t> ids,
                                      bool skip_special_tokens) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (uint32_t id : ids) {
    std::string_view tok;
    if (auto it = m.added_by_id.find(id); it != m.added_by_id.end()) {
      tok = m.parts.added_tokens[it->second].content;
    } else if (auto t = m.parts.model->id_to_token(id)) {
      tok = *t;
    } else {
      // As HF tokenizers: an id the tokenizer does not know decodes to
      // nothing. Real checkpoints pad the model's vocabulary past the
      // tokenizer's (Qwen2: 151,936 rows for 151,669 tokens) and a sampler
      // may pick a padding row.
      continue;
    }
    if (skip_special_tokens && m.special_contents.contains(std::string(tok))) continue;
    tokens.emplace_back(tok);
  }
  std::string out;
  if (m.parts.decoder) {
    KEEL_RETURN_IF_ERROR(m.parts.decoder->decode_chain(tokens));
    for (const std::string& t : tokens) out += t;
  } else {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
  }
  if (utf8::find_invalid(out) != std::string_view::npos) out = utf8::to_valid_lossy(out);
  return out;
}

std::optional<uint32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto it = impl_->added_by_content.find(std::string(token)); it != impl_->added_by_content.end()) {
    return it->second;
  }
  return impl_->parts.model->token_to_id(token);
}

std::optional<std::string> Tokenizer::id_to_token(uint32_t id) const {
  if (auto it = impl_->added_by_id.find(id); it != impl_->added_by_id.end()) {
    return impl_->parts.added_tokens[it->second].content;
  }
  if (auto t = impl_->parts.model->id_to_token(id)) return std::string(*t);
  return std::nullopt;
}

size_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
std::optional<uint32_t> Tokenizer::bos_id() const { return impl_->bos_id; }
std::optional<uint32_t> Tokenizer::eos_id() const { return impl_->eos_id; }
bool Tokenizer::is_special(uint32_t id) const {
  auto it = impl_->added_by_id.find(id);
  return it != impl_->added_by_id.end() && impl_->parts.added_tokens[it->second].special;
}
const std::vector<AddedToken>& Tokenizer::added_tokens() const {
  return impl_->parts.added_tokens;
}

std::vector<Offsets> to_char_offsets(std::string_view text, std::span<const Offsets> byte_offsets) {
  // char_at[b]: index of the character that holds byte b (maximal ill-formed
  // subparts count as one character, the U+FFFD lossy_utf8 puts there).
  std::vector<uint32_t> char_at(text.size());
  uint32_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    const utf8::Decoded d = utf8::decode(text, i);
    for (size_t k = 0; k < d.length && i + k < text.size(); ++k) char_at[i + k] = chars;
    i += d.length;
  }
  std::vector<Offsets> out;
  out.reserve(byte_offsets.size());
  for (const auto& [b, e] : byte_offsets) {
    // HF's BytesToCharOffsetConverter: a byte maps to the character holding
    // it, the end of the text to one past the last character, a start past
    // the text is left as is.
    // (keel trims offsets before converting them, so a start may be at the
    // end: that is one past the last character, as HF trims after.)
    if (b > text.size()) {
      out.emplace_back(b, e);
    } else {
      out.emplace_back(b < text.size() ? char_at[b] : chars, e < text.size() ? char_at[e] : chars);
    }
  }
  return out;
}

Result<Tokenizer> Tokenizer::from_parts(TokenizerParts parts) {
  KEEL_ASSIGN_OR_RETURN(auto impl, Impl::create(std::move(parts)));
  return Tokenizer(std::move(impl));
}

}  // namespace keel::tokenizer
