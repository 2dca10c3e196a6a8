// Decoders that rewrite each token's text: Strip, Replace, WordPiece,
// BPEDecoder and CTC.
#include <nlohmann/json.hpp>

#include <memory>

#include "keel/core/utf8.h"
#include "keel/tokenizer/decoders/decoders.h"
#include "keel/tokenizer/json_util.h"
#include "keel/tokenizer/normalizers/replace_pattern.h"

namespace keel::tokenizer {
namespace {

// Rust's str::replace: every non-overlapping occurrence of `from`, left to
// right; an empty `from` matches at every character boundary.
std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  if (from.empty()) {
    out.append(to);
    size_t i = 0;
    while (i < s.size()) {
      const size_t n = utf8::decode(s, i).length;
      out.append(s.substr(i, n));
      out.append(to);
      i += n;
    }
    return out;
  }
  size_t pos = 0;
  for (;;) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

// HF's wordpiece::cleanup: undoes the spaces BERT-style decoding puts before
// punctuation and contractions.
std::string cleanup(std::string s) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},     {" ?", "?"},     {" !", "!"},         {" ,", ","},
      {" ' ", "'"},    {" n't", "n't"}, {" 'm", "'m"},       {" do not", " don't"},
      {" 's", "'s"},   {" 've", "'ve"}, {" 're", "'re"}};
  for (const auto& [from, to] : kRules) {
    if (s.find(from) != std::string::npos) s = replace_all(s, from, to);
  }
  return s;
}

// Removes up to `start` leading and `stop` trailing `content` characters from
// each token. (Where the two overlap HF panics; keel yields an empty token.)
class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : start_(start), stop_(stop) {
    utf8::append(content_, content);
  }

  Status decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) {
      std::string_view v = t;
      size_t begin = 0;
      for (size_t k = 0; k < start_ && v.substr(begin).starts_with(content_); ++k) {
        begin += content_.size();
      }
      size_t end = v.size();
      for (size_t k = 0; k < stop_ && end >= content_.size() &&
                         v.substr(0, end).ends_with(content_);
           ++k) {
        end -= content_.size();
      }
      if (begin == 0 && end == v.size()) continue;
      t = end > begin ? std::string(v.substr(begin, end - begin)) : std::string();
    }
    return OkStatus();
  }

 private:
  std::string content_;
  size_t start_;
  size_t stop_;
};

// Replaces every match of a String or Regex pattern in each token.
class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(ReplacePattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}

  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::string out;
    for (std::string& t : tokens) {
      out.clear();
      KEEL_RETURN_IF_ERROR(pattern_.replace_all(t, content_, out));
      t.swap(out);
    }
    return OkStatus();
  }

 private:
  ReplacePattern pattern_;
  std::string content_;
};

// WordPiece: tokens after the first lose `prefix` ("##") if they start with
// it and get a leading ' ' otherwise; then optional cleanup.
class WordPieceDecoder final : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}

  Status decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0) {
        if (t.starts_with(prefix_)) {
          t.erase(0, prefix_.size());
        } else {
          t.insert(0, 1, ' ');
        }
      }
      if (cleanup_) t = cleanup(std::move(t));
    }
    return OkStatus();
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

// BPEDecoder: the end-of-word `suffix` becomes ' ' (nothing in the last token).
class BpeDecoder final : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}

  Status decode_chain(std::vector<std::string>& tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }
    return OkStatus();
  }

 private:
  std::string suffix_;
};

// CTC: collapses repeated tokens, removes the pad token, optionally cleans up
// and turns the word delimiter into ' '; drops tokens left empty.
class CtcDecoder final : public Decoder {
 public:
  CtcDecoder(std::string pad, std::string delimiter, bool cleanup)
      : pad_(std::move(pad)), delimiter_(std::move(delimiter)), cleanup_(cleanup) {}

  Status decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0 && tokens[i] == tokens[i - 1]) continue;
      std::string t = replace_all(tokens[i], pad_, "");
      if (cleanup_) t = replace_all(cleanup(std::move(t)), delimiter_, " ");
      if (!t.empty()) out.push_back(std::move(t));
    }
    tokens.swap(out);
    return OkStatus();
  }

 private:
  std::string pad_;
  std::string delimiter_;
  bool cleanup_;
};

}  // namespace

DecoderResult make_strip_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const char32_t content, json::get_char(j, "content", path));
  KEEL_ASSIGN_OR_RETURN(const size_t start, get_count(j, "start", path));
  KEEL_ASSIGN_OR_RETURN(const size_t stop, get_count(j, "stop", path));
  return std::unique_ptr<Decoder>(std::make_unique<StripDecoder>(content, start, stop));
}

DecoderResult make_replace_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(const nlohmann::json* pattern_json, json::get_object(j, "pattern", path));
  KEEL_ASSIGN_OR_RETURN(ReplacePattern pattern,
                        ReplacePattern::parse(*pattern_json, json::child_path(path, "pattern")));
  KEEL_ASSIGN_OR_RETURN(std::string content, json::get_string(j, "content", path));
  return std::unique_ptr<Decoder>(
      std::make_unique<ReplaceDecoder>(std::move(pattern), std::move(content)));
}

DecoderResult make_word_piece_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string prefix, json::get_string(j, "prefix", path));
  KEEL_ASSIGN_OR_RETURN(const bool do_cleanup, json::get_bool(j, "cleanup", path));
  return std::unique_ptr<Decoder>(std::make_unique<WordPieceDecoder>(std::move(prefix), do_cleanup));
}

DecoderResult make_bpe_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string suffix, json::get_string(j, "suffix", path));
  return std::unique_ptr<Decoder>(std::make_unique<BpeDecoder>(std::move(suffix)));
}

DecoderResult make_ctc_decoder(const nlohmann::json& j, const std::string& path) {
  KEEL_ASSIGN_OR_RETURN(std::string pad, json::get_string(j, "pad_token", path));
  KEEL_ASSIGN_OR_RETURN(std::string delimiter, json::get_string(j, "word_delimiter_token", path));
  KEEL_ASSIGN_OR_RETURN(const bool do_cleanup, json::get_bool(j, "cleanup", path));
  return std::unique_ptr<Decoder>(
      std::make_unique<CtcDecoder>(std::move(pad), std::move(delimiter), do_cleanup));
}

}  // namespace keel::tokenizer
