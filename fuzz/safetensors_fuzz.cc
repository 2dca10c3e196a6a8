// Fuzzes the safetensors header parser and tensor lookup on in-memory bytes.
// Any input must give either a valid file whose every tensor view lies
// inside the input, or a Status; never a crash or an out-of-bounds read.
#include <cstdint>
#include <cstdlib>
#include <string_view>

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
  }
  (void)total;
  return 0;
}
