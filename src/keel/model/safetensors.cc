// SafetensorsFile: open (mmap), parse and validate. The sharded model and
// the writer are in safetensors_model.cc and safetensors_writer.cc.
#include "keel/model/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "keel/core/json_depth.h"

namespace keel::model {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // as the reference implementation

uint64_t read_le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// A non-negative integer that fits uint64; nullopt for anything else.
std::optional<uint64_t> as_u64(const nlohmann::json& j) {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer() && j.get<int64_t>() >= 0) return static_cast<uint64_t>(j.get<int64_t>());
  return std::nullopt;
}

using Entry = SafetensorsFile::Entry;

Result<Entry> parse_entry(const std::string& source, const std::string& name,
                          const nlohmann::json& j, uint64_t data_size) {
  auto bad = [&](std::string_view what) {
    return DataLossError("{}: tensor \"{}\": {}; the file is corrupt or not safetensors", source,
                         name, what);
  };
  if (!j.is_object()) return bad("entry is not a JSON object");
  auto dtype_it = j.find("dtype");
  auto shape_it = j.find("shape");
  auto offsets_it = j.find("data_offsets");
  if (dtype_it == j.end() || !dtype_it->is_string()) return bad("\"dtype\" is missing or not a string");
  if (shape_it == j.end() || !shape_it->is_array()) return bad("\"shape\" is missing or not an array");
  if (offsets_it == j.end() || !offsets_it->is_array() || offsets_it->size() != 2) {
    return bad("\"data_offsets\" is not an array [begin, end]");
  }
  Entry e;
  auto dtype = parse_dtype(dtype_it->get_ref<const std::string&>());
  if (!dtype.ok()) return bad(dtype.status().message());
  e.dtype = *dtype;

  uint64_t num_elements = 1;
  bool overflow = false;
  for (size_t i = 0; i < shape_it->size(); ++i) {
    auto dim = as_u64((*shape_it)[i]);
    if (!dim || *dim > static_cast<uint64_t>(INT64_MAX)) {
      // Never dump() untrusted JSON: deep nesting would recurse.
      return bad(fmt::format("shape entry {} is not a non-negative integer", i));
    }
    e.shape.push_back(static_cast<int64_t>(*dim));
    overflow = overflow || __builtin_mul_overflow(num_elements, *dim, &num_elements);
  }
  auto begin = as_u64((*offsets_it)[0]);
  auto end = as_u64((*offsets_it)[1]);
  if (!begin || !end) return bad("data_offsets are not non-negative integers");
  if (*end < *begin) return bad(fmt::format("data_offsets [{}, {}] end before they begin", *begin, *end));
  e.begin = *begin;
  e.end = *end;
  uint64_t expected = 0;
  if (overflow || __builtin_mul_overflow(num_elements, dtype_size_bytes(e.dtype), &expected) ||
      expected != e.end - e.begin) {
    return bad(fmt::format("shape [{}] of {} needs {} bytes but data_offsets [{}, {}] hold {}",
                           fmt::join(e.shape, ", "), dtype_name(e.dtype),
                           overflow ? std::string("more than 2^64") : std::to_string(expected),
                           e.begin, e.end, e.end - e.begin));
  }
  if (e.end > data_size) {
    return bad(fmt::format("data_offsets [{}, {}] run past the end of the {}-byte data section",
                           e.begin, e.end, data_size));
  }
  return e;
}

}  // namespace

// The bytes of a file: an mmap, or an owned copy.
struct SafetensorsFile::Storage {
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (mapped != nullptr) ::munmap(mapped, size);
  }
  const std::byte* data() const {
    return mapped != nullptr ? static_cast<const std::byte*>(mapped)
                             : reinterpret_cast<const std::byte*>(copy.data());
  }
  void* mapped = nullptr;
  size_t size = 0;
  std::string copy;
};

int64_t TensorView::num_elements() const {
  // A zero dimension empties the tensor whatever the others are, and the
  // others may then multiply past INT64_MAX ([INT64_MAX, 2, 0] is a valid
  // 0-byte tensor, as in the reference parser): never multiply them. With no
  // zero, parse() checked that the product times the dtype size is the
  // view's byte count, so it fits.
  if (std::find(shape.begin(), shape.end(), int64_t{0}) != shape.end()) return 0;
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return static_cast<int64_t>(n);
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return NotFoundError("safetensors file {} does not exist", path);
    return UnavailableError("cannot open safetensors file {}: {}", path, std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return UnavailableError("cannot stat safetensors file {}: {}", path, std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgumentError("{} is a folder, not a safetensors file", path);
  }
  auto storage = std::make_shared<Storage>();
  storage->size = static_cast<size_t>(st.st_size);
  if (storage->size > 0) {
    void* p = ::mmap(nullptr, storage->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return UnavailableError("cannot map safetensors file {} ({} bytes): {}", path,
                              storage->size, std::strerror(err));
    }
    storage->mapped = p;
    // Weights are read once, front to back, when they are copied into
    // device memory: ask for readahead (advice only; failure is harmless).
    ::madvise(p, storage->size, MADV_SEQUENTIAL);
    ::madvise(p, storage->size, MADV_WILLNEED);
  }
  ::close(fd);  // the mapping stays valid
  return from_storage(std::move(storage), path);
}

Result<SafetensorsFile> SafetensorsFile::parse(std::string_view bytes, std::string source) {
  auto storage = std::make_shared<Storage>();
  storage->copy.assign(bytes.data(), bytes.size());
  storage->size = bytes.size();
  return from_storage(std::move(storage), std::move(source));
}

Result<SafetensorsFile> SafetensorsFile::from_storage(std::shared_ptr<const Storage> storage,
                                                      std::string path) {
  const uint64_t size = storage->size;
  const std::byte* bytes = storage->data();
  if (size < 8) {
    return DataLossError("{}: {} bytes is shorter than the 8-byte header length; not a "
                         "safetensors file", path, size);
  }
  const uint64_t header_len = read_le64(bytes);
  if (header_len > size - 8) {
    return DataLossError("{}: header length {} runs past the end of the {}-byte file; the file "
                         "is truncated or not safetensors", path, header_len, size);
  }
  if (header_len > kMaxHeaderBytes) {
    return DataLossError("{}: header length {} is above the 100 MiB limit", path, header_len);
  }
  std::string_view header(reinterpret_cast<const char*>(bytes + 8), header_len);
  if (const Status deep = check_json_depth(header, "header"); !deep.ok()) {
    return DataLossError("{}: {}; the file is corrupt or not safetensors", path, deep.message());
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    return DataLossError("{}: header is not JSON ({}); the file is corrupt or not safetensors",
                         path, e.what());
  }
  if (!j.is_object()) {
    return DataLossError("{}: header is JSON but not an object; not a safetensors file", path);
  }

  SafetensorsFile file;
  file.storage_ = std::move(storage);
  file.path_ = std::move(path);
  file.data_ = bytes + 8 + header_len;
  file.data_size_ = size - 8 - header_len;
  for (const auto& [name, value] : j.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) {
        return DataLossError("{}: \"__metadata__\" is not an object of strings", file.path_);
      }
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string()) {
          return DataLossError("{}: \"__metadata__\" value for \"{}\" is not a string",
                               file.path_, k);
        }
        file.metadata_.emplace(k, v.get<std::string>());
      }
      continue;
    }
    KEEL_ASSIGN_OR_RETURN(Entry e, parse_entry(file.path_, name, value, file.data_size_));
    file.tensors_.emplace(name, std::move(e));
  }

  // Overlap check: sort non-empty ranges by begin.
  std::vector<std::pair<const std::string*, const Entry*>> by_offset;
  by_offset.reserve(file.tensors_.size());
  for (const auto& [name, e] : file.tensors_) {
    if (e.end > e.begin) by_offset.emplace_back(&name, &e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto& a, const auto& b) { return a.second->begin < b.second->begin; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto& [prev_name, prev] = by_offset[i - 1];
    const auto& [name, e] = by_offset[i];
    if (e->begin < prev->end) {
      return DataLossError("{}: tensor \"{}\" [{}, {}] overlaps tensor \"{}\" [{}, {}]; the file "
                           "is corrupt", file.path_, *name, e->begin, e->end, *prev_name,
                           prev->begin, prev->end);
    }
  }
  return file;
}

std::vector<std::string_view> SafetensorsFile::tensor_names() const {
  std::vector<std::string_view> names;
  names.reserve(tensors_.size());
  for (const auto& [name, e] : tensors_) names.push_back(name);
  return names;
}

bool SafetensorsFile::contains(std::string_view name) const {
  return tensors_.find(name) != tensors_.end();
}

Result<TensorView> SafetensorsFile::tensor(std::string_view name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    return NotFoundError("{} has no tensor \"{}\" ({} tensors)", path_, name, tensors_.size());
  }
  const Entry& e = it->second;
  return TensorView{it->first, e.dtype, e.shape, data_ + e.begin, e.end - e.begin};
}

}  // namespace keel::model
