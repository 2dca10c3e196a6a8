// write_random_model: deterministic random weights, sharding and the files of
// a model folder.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <sstream>
#include <utility>

#include "keel/core/logging.h"
#include "keel/core/thread_pool.h"
#include "keel/model/make_model.h"

namespace keel::model {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;
// Weights are generated a window at a time (bounded memory), each window by
// parallel tasks of kTaskElements.
constexpr uint64_t kWindowElements = uint64_t{1} << 22;
constexpr uint64_t kTaskElements = uint64_t{1} << 18;
constexpr double kNormStd = 0.1;
constexpr double kBiasStd = 0.02;
constexpr auto kWindowTimeout = std::chrono::minutes(5);
constexpr std::array<std::string_view, 4> kTokenizerFiles = {
    "tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json"};

// splitmix64's output function: a bijective 64-bit mixer.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (char c : s) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001B3ULL;
  return h;
}

// Round to nearest even, as torch's .to(bfloat16) / .to(float16).
uint16_t f32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN
  return static_cast<uint16_t>((x + 0x7FFF + ((x >> 16) & 1)) >> 16);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t ax = x & 0x7FFFFFFF;
  if (ax > 0x7F800000) return static_cast<uint16_t>(sign | 0x7E00);  // NaN
  if (ax >= 0x477FF000) return static_cast<uint16_t>(sign | 0x7C00);  // >= 65520: inf
  if (ax >= 0x38800000) {                                            // normal in f16
    const uint32_t v = ax - 0x38000000;                              // rebias 127 -> 15
    return static_cast<uint16_t>(sign | ((v + 0xFFF + ((v >> 13) & 1)) >> 13));
  }
  if (ax < 0x33000000) return static_cast<uint16_t>(sign);  // <= 2^-25: rounds to 0
  // Subnormal: m * 2^(e-150) = q * 2^-24 with q = m >> (126 - e), rounded.
  const uint32_t e = ax >> 23, m = (ax & 0x7FFFFF) | 0x800000, shift = 126 - e;
  uint32_t q = m >> shift;
  const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return static_cast<uint16_t>(sign | q);
}

// One tensor of a shard and how to draw its elements.
struct TensorJob {
  TensorSpec spec;
  uint64_t num_elements = 0;
  uint64_t bytes = 0;
  uint64_t key = 0;  // RNG stream of this tensor
  float scale = 0;   // std / std(Irwin-Hall sum)
  bool unit_mean = false;
};

TensorJob make_job(const MakeModelSpec& s, TensorSpec spec) {
  // The sum of four uniform 16-bit integers, centred, approximates a normal
  // (Irwin–Hall): integers in [-131070, 131070] with this std.
  static const double kSumStd = std::sqrt((65536.0 * 65536.0 - 1.0) / 3.0);
  TensorJob t;
  const std::string& n = spec.name;
  double std_dev;
  if (n.ends_with("norm.weight")) {
    std_dev = kNormStd;
    t.unit_mean = true;
  } else if (n.ends_with(".bias")) {
    std_dev = kBiasStd;
  } else if (n == "model.embed_tokens.weight" || n == "model.tok_embeddings.weight" ||
             n == "lm_head.weight" || n == "output.weight") {
    std_dev = s.embedding_std > 0 ? s.embedding_std : 2.0 / std::sqrt(double(s.hidden_size));
  } else {
    std_dev = s.weight_std > 0 ? s.weight_std : 1.0 / std::sqrt(double(spec.shape.at(1)));
  }
  t.scale = static_cast<float>(std_dev / kSumStd);
  t.key = mix64(s.seed ^ mix64(fnv1a(n)));
  t.num_elements = 1;
  for (int64_t d : spec.shape) t.num_elements *= static_cast<uint64_t>(d);
  t.bytes = t.num_elements * dtype_size_bytes(s.dtype);
  t.spec = std::move(spec);
  return t;
}

// Elements [begin, end) of the tensor into dst[0, (end - begin) * size).
template <DType kDType, bool kUnitMean>
void fill(uint64_t key, float scale, uint64_t begin, uint64_t end, std::byte* dst) {
  constexpr size_t kSize = kDType == DType::kF32 ? 4 : 2;
  for (uint64_t i = begin; i < end; ++i, dst += kSize) {
    const uint64_t r = mix64(key + (i + 1) * kGolden);
    const int32_t sum = static_cast<int32_t>((r & 0xFFFF) + ((r >> 16) & 0xFFFF) +
                                             ((r >> 32) & 0xFFFF) + (r >> 48)) - 131070;
    const float z = static_cast<float>(sum);  // exact
    // One correctly rounded operation: the same bits on every IEEE machine.
    const float v = kUnitMean ? std::fma(z, scale, 1.0f) : z * scale;
    if constexpr (kDType == DType::kF32) {
      std::memcpy(dst, &v, 4);
    } else {
      const uint16_t h = kDType == DType::kBF16 ? f32_to_bf16(v) : f32_to_f16(v);
      std::memcpy(dst, &h, 2);
    }
  }
}

template <DType kDType>
void fill(const TensorJob& t, uint64_t begin, uint64_t end, std::byte* dst) {
  if (t.unit_mean) fill<kDType, true>(t.key, t.scale, begin, end, dst);
  else fill<kDType, false>(t.key, t.scale, begin, end, dst);
}

// Elements [begin, begin + n) of `t` into `window`, in parallel on the
// global pool. The tasks share the window: on a deadline they may outlive
// the call (which then fails, so the window is never reused).
Status generate(const TensorJob& t, DType dtype, uint64_t begin, uint64_t n,
                const std::shared_ptr<std::byte[]>& window) {
  const size_t tasks = static_cast<size_t>((n + kTaskElements - 1) / kTaskElements);
  const uint64_t size = dtype_size_bytes(dtype);
  TensorJob job = t;
  job.spec = {};  // the tasks need only the stream
  return ThreadPool::global().parallel_for(
      tasks,
      [job, dtype, begin, n, size, window](size_t i) {
        const uint64_t b = begin + i * kTaskElements, e = std::min(begin + n, b + kTaskElements);
        std::byte* dst = window.get() + (b - begin) * size;
        switch (dtype) {
          case DType::kF32: fill<DType::kF32>(job, b, e, dst); break;
          case DType::kF16: fill<DType::kF16>(job, b, e, dst); break;
          default: fill<DType::kBF16>(job, b, e, dst); break;
        }
      },
      Deadline::after(kWindowTimeout));
}

// A file written as "<path>.tmp.<pid>" and renamed over `path` by commit(),
// so a reader never sees half a file; removed if never committed.
class AtomicFile {
 public:
  static Result<AtomicFile> create(const fs::path& path) {
    AtomicFile f;
    f.path_ = path.string();
    f.tmp_ = f.path_ + ".tmp." + std::to_string(::getpid());
    f.fd_ = ::open(f.tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f.fd_ < 0) return UnavailableError("cannot create {}: {}", f.tmp_, std::strerror(errno));
    return f;
  }
  AtomicFile(AtomicFile&& o) noexcept
      : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), fd_(std::exchange(o.fd_, -1)) {}
  AtomicFile& operator=(AtomicFile&&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
    }
  }

  Status append(const void* data, size_t bytes) {
    const char* p = static_cast<const char*>(data);
    while (bytes > 0) {
      ssize_t n = ::write(fd_, p, bytes);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return UnavailableError("cannot write {}: {}", path_, std::strerror(errno));
      p += n;
      bytes -= static_cast<size_t>(n);
    }
    return OkStatus();
  }
  Status append(std::string_view s) { return append(s.data(), s.size()); }

  Status commit() {
    const bool synced = ::fsync(fd_) == 0;
    const int sync_err = errno;
    const bool closed = ::close(std::exchange(fd_, -1)) == 0;
    const int close_err = errno;
    if (!synced || !closed || ::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int err = !synced ? sync_err : !closed ? close_err : errno;
      ::unlink(tmp_.c_str());
      return UnavailableError("cannot write {}: {}", path_, std::strerror(err));
    }
    return OkStatus();
  }

 private:
  AtomicFile() = default;
  std::string path_, tmp_;
  int fd_ = -1;
};

Status write_file_atomic(const fs::path& path, std::string_view bytes) {
  KEEL_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::create(path));
  KEEL_RETURN_IF_ERROR(f.append(bytes));
  return f.commit();
}

uint64_t align8(uint64_t n) { return (n + 7) / 8 * 8; }

// One weights file, streamed: the header, then each tensor generated a window
// at a time. The layout is exactly serialize_safetensors's (metadata first,
// header padded with spaces to 8 bytes, tensors 8-byte aligned, zero gaps);
// a test checks it byte for byte.
Status write_shard(const fs::path& path, const std::vector<TensorJob>& tensors, DType dtype) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::vector<uint64_t> begins;
  uint64_t offset = 0;
  for (const TensorJob& t : tensors) {
    offset = align8(offset);
    begins.push_back(offset);
    header[t.spec.name] = {{"dtype", dtype_name(dtype)},
                           {"shape", t.spec.shape},
                           {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string json = header.dump();
  json.append(align8(8 + json.size()) - 8 - json.size(), ' ');
  std::string prefix(8, '\0');
  for (size_t i = 0; i < 8; ++i) prefix[i] = static_cast<char>((uint64_t{json.size()} >> (8 * i)) & 0xFF);

  KEEL_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::create(path));
  KEEL_RETURN_IF_ERROR(file.append(prefix + json));
  const uint64_t size = dtype_size_bytes(dtype);
  std::shared_ptr<std::byte[]> window;
  try {
    window = std::make_shared_for_overwrite<std::byte[]>(kWindowElements * size);
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("cannot allocate {} bytes to generate weights in",
                                  kWindowElements * size);
  }
  uint64_t written = 0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const TensorJob& t = tensors[k];
    static constexpr char kZeros[8] = {};
    KEEL_RETURN_IF_ERROR(file.append(kZeros, begins[k] - written));
    for (uint64_t b = 0; b < t.num_elements; b += kWindowElements) {
      const uint64_t n = std::min(kWindowElements, t.num_elements - b);
      KEEL_RETURN_IF_ERROR(generate(t, dtype, b, n, window).with_context(
          fmt::format("generating {} of {}", t.spec.name, path.string())));
      KEEL_RETURN_IF_ERROR(file.append(window.get(), n * size));
    }
    written = begins[k] + t.bytes;
  }
  return file.commit();
}

Result<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return UnavailableError("cannot read {}", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return UnavailableError("cannot read {}", path.string());
  return ss.str();
}

// (file name in the model folder, bytes), read up front so that a tokenizer
// inside out_dir survives the overwrite.
Result<std::vector<std::pair<std::string, std::string>>> read_tokenizer_files(
    const std::string& source) {
  std::vector<std::pair<std::string, std::string>> files;
  if (source.empty()) return files;
  const fs::path p(source);
  std::error_code ec;
  if (!fs::exists(p, ec)) {
    return NotFoundError("tokenizer path '{}' does not exist: pass a tokenizer.json, a "
                         "tokenizer.model, or a folder holding them", source);
  }
  if (!fs::is_directory(p, ec)) {
    std::string name = p.extension() == ".model" ? "tokenizer.model" : "tokenizer.json";
    KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(p));
    files.emplace_back(std::move(name), std::move(bytes));
    return files;
  }
  for (std::string_view name : kTokenizerFiles) {
    if (!fs::exists(p / name, ec)) continue;
    KEEL_ASSIGN_OR_RETURN(std::string bytes, read_file(p / name));
    files.emplace_back(std::string(name), std::move(bytes));
  }
  if (!fs::exists(p / "tokenizer.json", ec) && !fs::exists(p / "tokenizer.model", ec)) {
    return NotFoundError("tokenizer folder '{}' has neither tokenizer.json nor tokenizer.model",
                         source);
  }
  return files;
}

bool is_model_file(const std::string& name) {
  if (name == "config.json" || name == "generation_config.json" || name == "model.safetensors" ||
      name == "model.safetensors.index.json") {
    return true;
  }
  for (std::string_view t : kTokenizerFiles) {
    if (name == t) return true;
  }
  return name.starts_with("model-") && name.ends_with(".safetensors");
}

Status prepare_dir(const fs::path& dir, bool overwrite) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return FailedPreconditionError("output path '{}' exists and is not a folder", dir.string());
    }
    std::vector<fs::path> ours;
    bool empty = true;
    for (const fs::directory_entry& e : fs::directory_iterator(dir, ec)) {
      empty = false;
      if (is_model_file(e.path().filename().string())) ours.push_back(e.path());
    }
    if (ec) return UnavailableError("cannot list output folder '{}': {}", dir.string(), ec.message());
    if (!empty && !overwrite) {
      return FailedPreconditionError("output folder '{}' is not empty; choose another or "
                                     "overwrite it (--force)", dir.string());
    }
    for (const fs::path& f : ours) {
      if (!fs::remove(f, ec) && ec) {
        return UnavailableError("cannot remove {}: {}", f.string(), ec.message());
      }
    }
  } else if (!fs::create_directories(dir, ec) && ec) {
    return UnavailableError("cannot create output folder '{}': {}", dir.string(), ec.message());
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    return UnavailableError("output folder '{}' is not writable: {}", dir.string(),
                            std::strerror(errno));
  }
  return OkStatus();
}

// Tensors grouped into shards as transformers does: in order, a new shard
// when the next tensor would overflow a non-empty one.
std::vector<std::vector<TensorJob>> plan_shards(const MakeModelSpec& s) {
  std::vector<std::vector<TensorJob>> shards(1);
  uint64_t bytes = 0;
  for (TensorSpec& spec : tensor_specs(s)) {
    TensorJob t = make_job(s, std::move(spec));
    if (!shards.back().empty() && bytes + t.bytes > s.shard_size_bytes) {
      shards.emplace_back();
      bytes = 0;
    }
    bytes += t.bytes;
    shards.back().push_back(std::move(t));
  }
  return shards;
}

}  // namespace

Status write_random_model(const MakeModelSpec& spec, const std::string& out_dir,
                          const WriteModelOptions& options) {
  KEEL_RETURN_IF_ERROR(validate(spec));
  KEEL_ASSIGN_OR_RETURN(auto tokenizer_files, read_tokenizer_files(options.tokenizer_path));
  const fs::path dir(out_dir);
  KEEL_RETURN_IF_ERROR(prepare_dir(dir, options.overwrite));

  std::vector<std::vector<TensorJob>> shards = plan_shards(spec);
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total_bytes = 0;
  for (size_t k = 0; k < shards.size(); ++k) {
    const std::string name = shards.size() == 1
        ? std::string("model.safetensors")
        : fmt::format("model-{:05d}-of-{:05d}.safetensors", k + 1, shards.size());
    for (const TensorJob& t : shards[k]) {
      weight_map[t.spec.name] = name;
      total_bytes += t.bytes;
    }
    KEEL_RETURN_IF_ERROR(write_shard(dir / name, shards[k], spec.dtype));
    KEEL_LOG_DEBUG("make-model: wrote {} ({} tensors)", (dir / name).string(), shards[k].size());
  }
  if (shards.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total_bytes}}},
                            {"weight_map", std::move(weight_map)}};
    KEEL_RETURN_IF_ERROR(write_file_atomic(dir / "model.safetensors.index.json", index.dump(2) + "\n"));
  }
  for (const auto& [name, bytes] : tokenizer_files) {
    KEEL_RETURN_IF_ERROR(write_file_atomic(dir / name, bytes));
  }
  KEEL_RETURN_IF_ERROR(write_file_atomic(dir / "generation_config.json", generation_config_json(spec)));
  return write_file_atomic(dir / "config.json", hf_config_json(spec));
}

}  // namespace keel::model
