// Safetensors: reading (memory-mapped, fully validated) and writing.
//
// File format: an 8-byte little-endian header length N, N bytes of JSON
//   {"__metadata__": {"k": "v", ...},
//    "<tensor>": {"dtype": "F32", "shape": [d0, d1, ...],
//                 "data_offsets": [begin, end]}, ...}
// then the data section; offsets are relative to the data section.
//
// Validation on open/parse (every failure is DataLoss naming the file and,
// where there is one, the tensor): file shorter than 8 bytes; header length
// past the end of the file or above 100 MiB; header not JSON or not an
// object; malformed entries; unknown dtype; end < begin; byte size !=
// product(shape) * dtype size; offsets past the end of the data; two
// tensors overlapping. Holes between tensors are allowed.
//
// Ownership: a SafetensorsFile owns its bytes (an mmap for open(), a copy
// for parse()); TensorViews point into them and are valid while the file
// (or any copy of it: copies share the bytes) lives. Mapped weights are page
// cache, not budget-reserved memory: whoever converts or copies them into
// device memory reserves that from the device's MemoryBudget.
// Data pointers are not guaranteed aligned beyond what the writer chose
// (write_safetensors pads the header so the data starts 8-byte aligned and
// aligns each tensor to 8 bytes).
//
// SafetensorsModel opens a model folder: model.safetensors, or the shards
// listed in model.safetensors.index.json ("weight_map": tensor -> shard).
// Thread-safety: opened files and models are immutable; all const methods
// are safe to call concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "keel/core/result.h"
#include "keel/model/dtype.h"

namespace keel::model {

struct TensorView {
  std::string_view name;
  DType dtype = DType::kF32;
  std::span<const int64_t> shape;
  const void* data = nullptr;  // bytes of a row-major (shape...) array of dtype
  uint64_t bytes = 0;
  int64_t num_elements() const;
};

class SafetensorsFile {
 public:
  // Maps `path` read-only. NotFound if it does not exist, InvalidArgument if
  // it is a folder, Unavailable for other I/O errors, DataLoss if invalid.
  static Result<SafetensorsFile> open(const std::string& path);
  // Parses in-memory bytes (copied). `source` names them in errors.
  static Result<SafetensorsFile> parse(std::string_view bytes, std::string source = "<memory>");

  const std::string& path() const { return path_; }
  // Sorted by name.
  std::vector<std::string_view> tensor_names() const;
  size_t num_tensors() const { return tensors_.size(); }
  bool contains(std::string_view name) const;
  // NotFound naming the file and the tensor.
  Result<TensorView> tensor(std::string_view name) const;
  const std::map<std::string, std::string, std::less<>>& metadata() const { return metadata_; }
  uint64_t data_bytes() const { return data_size_; }

  // One validated header entry (public for the parser's helpers).
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin;  // in the data section
    uint64_t end;
  };

 private:
  struct Storage;
  SafetensorsFile() = default;
  static Result<SafetensorsFile> from_storage(std::shared_ptr<const Storage> storage,
                                              std::string path);

  std::shared_ptr<const Storage> storage_;
  std::string path_;
  const std::byte* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::map<std::string, Entry, std::less<>> tensors_;
  std::map<std::string, std::string, std::less<>> metadata_;
};

class SafetensorsModel {
 public:
  // `path`: a folder holding model.safetensors.index.json (sharded) or
  // model.safetensors, or a .safetensors file itself. NotFound naming what
  // is missing (including a shard named in the index); DataLoss for a bad
  // index, a tensor the index puts in a shard that lacks it, or a tensor in
  // two shards.
  static Result<SafetensorsModel> open(const std::string& path);

  std::vector<std::string_view> tensor_names() const;  // sorted
  size_t num_tensors() const { return index_.size(); }
  bool contains(std::string_view name) const { return index_.count(name) > 0; }
  Result<TensorView> tensor(std::string_view name) const;
  const std::vector<SafetensorsFile>& files() const { return files_; }
  uint64_t total_tensor_bytes() const;

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t, std::less<>> index_;  // tensor -> files_ index
};

// One tensor to write; `data` must hold product(shape) * dtype size bytes.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;
};

// The file's bytes. InvalidArgument naming the tensor for a size mismatch,
// a negative dimension, a duplicate or reserved ("__metadata__") name.
Result<std::string> serialize_safetensors(std::span<const TensorToWrite> tensors,
                                          const std::map<std::string, std::string>& metadata = {});

// Writes atomically (a temporary file renamed over `path`). Errors as for
// serialize_safetensors, or Unavailable naming the path and the OS error.
Status write_safetensors(const std::string& path, std::span<const TensorToWrite> tensors,
                         const std::map<std::string, std::string>& metadata = {});

}  // namespace keel::model
