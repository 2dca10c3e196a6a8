// serde_float: the f64 that HF tokenizers (serde_json without its
// float_roundtrip feature) reads for a JSON number.
//
// serde_json accumulates up to 19 significant digits in a u64 and then
// computes `significand as f64 * 10^exp` (or `/ 10^-exp`), which is not
// always correctly rounded: it can differ from strtod by one ulp. Unigram
// scores decide ties in the Viterbi search, so keel must use the same value.
// nlohmann gives us the correctly rounded double; tokenizer.json files are
// written with the shortest round-trip representation (Python repr, serde),
// so re-printing that double shortest recovers the file's digits, from which
// serde's arithmetic is replayed. Pure functions; thread-safe.
#pragma once

namespace keel::tokenizer::models_internal {

double serde_json_f64(double correctly_rounded);

}  // namespace keel::tokenizer::models_internal
