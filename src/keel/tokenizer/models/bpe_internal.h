// Internal entry point shared by make_bpe and the tokenizer.json factory, so
// that load errors can name the JSON path of the offending vocab entry or
// merge. Not part of the public contract.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "keel/tokenizer/models/bpe.h"

namespace keel::tokenizer::models_internal {

// `path` prefixes every error (e.g. "$.model"); merge i is reported as
// "<path>.merges[<merge_json_index[i]>]" (or "[i]" when the vector is empty).
Result<std::unique_ptr<Model>> build_bpe(BpeConfig config, const std::string& path,
                                         const std::vector<size_t>& merge_json_index);

}  // namespace keel::tokenizer::models_internal
