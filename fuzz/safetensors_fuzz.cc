// Fuzzes the safetensors header parser and tensor lookup on in-memory bytes.
// Any input must give either a valid file whose every tensor view lies
// inside the input, or a Status; never a crash or an out-of-bounds read.
// A valid view's shape must also agree with its size: num_elements() times
// the dtype's size is its byte count (no overflow on the way).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "keel/model/dtype.h"
#include "keel/model/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto file = keel::model::SafetensorsFile::parse(in, "fuzz");
  if (!file.ok()) return 0;
  uint64_t total = 0;
  for (std::string_view name : file->tensor_names()) {
    auto t = file->tensor(name);
    if (!t.ok()) std::abort();  // a listed tensor must be found
    // Touch the first and last byte so ASan sees any out-of-bounds view.
    if (t->bytes > 0) {
      const auto* p = static_cast<const volatile uint8_t*>(t->data);
      total += p[0] + p[t->bytes - 1];
    }
    if (t->bytes > file->data_bytes()) std::abort();
    const int64_t n = t->num_elements();  // UBSan: no signed overflow
    if (n < 0 || static_cast<uint64_t>(n) * keel::model::dtype_size_bytes(t->dtype) != t->bytes) {
      std::abort();
    }
  }
  (void)total;
  return 0;
}
