// write_safetensors / serialize_safetensors.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "keel/model/safetensors.h"

namespace keel::model {
namespace {

constexpr uint64_t kAlignmentBytes = 8;

uint64_t align_up(uint64_t n) { return (n + kAlignmentBytes - 1) / kAlignmentBytes * kAlignmentBytes; }

}  // namespace

Result<std::string> serialize_safetensors(std::span<const TensorToWrite> tensors,
                                          const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string_view> names;
  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const TensorToWrite& t : tensors) {
    if (t.name == "__metadata__") {
      return InvalidArgumentError("a tensor cannot be named \"__metadata__\"");
    }
    if (!names.insert(t.name).second) {
      return InvalidArgumentError("tensor \"{}\" is listed twice", t.name);
    }
    uint64_t num_elements = 1;
    for (int64_t d : t.shape) {
      if (d < 0) return InvalidArgumentError("tensor \"{}\" has negative dimension {}", t.name, d);
      if (__builtin_mul_overflow(num_elements, static_cast<uint64_t>(d), &num_elements)) {
        return InvalidArgumentError("tensor \"{}\" has more than 2^64 elements", t.name);
      }
    }
    uint64_t expected = 0;
    if (__builtin_mul_overflow(num_elements, dtype_size_bytes(t.dtype), &expected) ||
        expected != t.data.size()) {
      return InvalidArgumentError("tensor \"{}\": {} elements of {} need {} bytes but {} were given",
                                  t.name, num_elements, dtype_name(t.dtype),
                                  num_elements * dtype_size_bytes(t.dtype), t.data.size());
    }
    offset = align_up(offset);
    offsets.push_back(offset);
    header[t.name] = {{"dtype", dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + expected}}};
    offset += expected;
  }
  std::string json = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned.
  json.append(align_up(8 + json.size()) - 8 - json.size(), ' ');

  std::string out;
  out.reserve(8 + json.size() + offset);
  uint64_t len = json.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  out += json;
  for (size_t i = 0; i < tensors.size(); ++i) {
    out.resize(8 + json.size() + offsets[i], '\0');  // alignment gap
    out.append(reinterpret_cast<const char*>(tensors[i].data.data()), tensors[i].data.size());
  }
  return out;
}

Status write_safetensors(const std::string& path, std::span<const TensorToWrite> tensors,
                         const std::map<std::string, std::string>& metadata) {
  KEEL_ASSIGN_OR_RETURN(std::string bytes, serialize_safetensors(tensors, metadata));
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return UnavailableError("cannot create {}: {}", tmp, std::strerror(errno));
  }
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return UnavailableError("cannot write {} ({} of {} bytes written): {}", path, written,
                              bytes.size(), std::strerror(err));
    }
    written += static_cast<size_t>(n);
  }
  int sync_rc = ::fsync(fd);
  int sync_err = errno;
  int close_rc = ::close(fd);
  if (sync_rc != 0 || close_rc != 0) {
    int err = sync_rc != 0 ? sync_err : errno;
    ::unlink(tmp.c_str());
    return UnavailableError("cannot flush {}: {}", path, std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return UnavailableError("cannot rename {} to {}: {}", tmp, path, std::strerror(err));
  }
  return OkStatus();
}

}  // namespace keel::model
