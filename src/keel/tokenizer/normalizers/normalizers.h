// Constructors of the individual normalizers, used by make_normalizer
// (factory.cc). Each takes its tokenizer.json object and JSON path and
// returns InvalidArgument naming the path for a malformed object.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>

#include "keel/core/result.h"
#include "keel/tokenizer/stages.h"

namespace keel::tokenizer {

enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };

std::unique_ptr<Normalizer> make_unicode_form_normalizer(UnicodeForm form);
std::unique_ptr<Normalizer> make_lowercase_normalizer();
std::unique_ptr<Normalizer> make_strip_accents_normalizer();
std::unique_ptr<Normalizer> make_nmt_normalizer();
std::unique_ptr<Normalizer> make_byte_level_normalizer();
Result<std::unique_ptr<Normalizer>> make_strip_normalizer(const nlohmann::json& j,
                                                          const std::string& path);
Result<std::unique_ptr<Normalizer>> make_prepend_normalizer(const nlohmann::json& j,
                                                            const std::string& path);
Result<std::unique_ptr<Normalizer>> make_replace_normalizer(const nlohmann::json& j,
                                                            const std::string& path);
Result<std::unique_ptr<Normalizer>> make_bert_normalizer(const nlohmann::json& j,
                                                         const std::string& path);
Result<std::unique_ptr<Normalizer>> make_sequence_normalizer(const nlohmann::json& j,
                                                             const std::string& path);

}  // namespace keel::tokenizer
