#include "keel/memory/system_memory.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "keel/memory/bytes.h"

namespace keel::memory {
namespace {

namespace fs = std::filesystem;

// v1 reports "no limit" as a huge page-rounded number near 2^63.
constexpr uint64_t kV1UnlimitedAtLeastBytes = 1ull << 62;

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// A limit file's value; nullopt for "max", the v1 sentinel, or no file.
std::optional<uint64_t> read_limit(const fs::path& file) {
  auto text = read_file(file.string());
  if (!text) return std::nullopt;
  auto v = parse_u64(*text);
  if (!v || *v >= kV1UnlimitedAtLeastBytes) return std::nullopt;
  return v;
}

// The "hierarchy:controllers:path" entry for the memory controller: the v1
// line listing "memory", else the v2 "0::" line.
struct CgroupEntry {
  int version = 0;
  std::string path;
};

std::optional<CgroupEntry> find_memory_cgroup(const std::string& proc_self_cgroup) {
  auto text = read_file(proc_self_cgroup);
  if (!text) return std::nullopt;
  std::optional<CgroupEntry> v2;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    size_t c1 = line.find(':');
    size_t c2 = c1 == std::string::npos ? c1 : line.find(':', c1 + 1);
    if (c2 == std::string::npos) continue;
    std::string_view controllers = std::string_view(line).substr(c1 + 1, c2 - c1 - 1);
    std::string path = line.substr(c2 + 1);
    if (line.compare(0, c1, "0") == 0 && controllers.empty()) {
      v2 = CgroupEntry{2, path};
      continue;
    }
    std::istringstream names{std::string(controllers)};
    for (std::string name; std::getline(names, name, ',');) {
      if (name == "memory") return CgroupEntry{1, path};
    }
  }
  return v2;
}

}  // namespace

Result<MemInfo> read_meminfo(const SystemPaths& paths) {
  auto text = read_file(paths.proc_meminfo);
  if (!text) {
    return NotFoundError("cannot read {}; set --memory-limit explicitly", paths.proc_meminfo);
  }
  std::optional<uint64_t> total_kib, available_kib;
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    // "MemAvailable:   23027196 kB"
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string_view key = std::string_view(line).substr(0, colon);
    if (key != "MemTotal" && key != "MemAvailable") continue;
    std::string_view rest = trim(std::string_view(line).substr(colon + 1));
    if (rest.size() < 3 || rest.substr(rest.size() - 3) != " kB") {
      return DataLossError("{}: line '{}' does not end in ' kB'", paths.proc_meminfo, line);
    }
    auto kib = parse_u64(rest.substr(0, rest.size() - 3));
    if (!kib) return DataLossError("{}: line '{}' has no number", paths.proc_meminfo, line);
    (key == "MemTotal" ? total_kib : available_kib) = *kib;
  }
  if (!total_kib || !available_kib) {
    return DataLossError("{} lacks MemTotal or MemAvailable (kernel older than 3.14?); "
                         "set --memory-limit explicitly", paths.proc_meminfo);
  }
  return MemInfo{*total_kib * 1024, *available_kib * 1024};
}

std::optional<CgroupMemory> read_cgroup_memory(const SystemPaths& paths) {
  auto entry = find_memory_cgroup(paths.proc_self_cgroup);
  if (!entry) return std::nullopt;
  fs::path base = entry->version == 1 ? fs::path(paths.cgroup_root) / "memory"
                                      : fs::path(paths.cgroup_root);
  const char* limit_name = entry->version == 1 ? "memory.limit_in_bytes" : "memory.max";
  const char* usage_name = entry->version == 1 ? "memory.usage_in_bytes" : "memory.current";

  // Our cgroup's folder; inside a container's namespace the path may not be
  // visible, and the mount's root is then our cgroup.
  std::string rel = entry->path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  std::error_code ec;
  fs::path dir = base / rel;
  if (rel.empty() || !fs::is_directory(dir, ec)) dir = base;

  CgroupMemory out;
  out.version = entry->version;
  bool limited = false;
  // Walk up to the mount root: every ancestor's limit applies.
  for (fs::path d = dir;; d = d.parent_path()) {
    if (auto limit = read_limit(d / limit_name)) {
      out.limit_bytes = limited ? std::min(out.limit_bytes, *limit) : *limit;
      limited = true;
    }
    if (d == base || d.parent_path() == d || d.string().size() <= base.string().size()) break;
  }
  if (!limited) return std::nullopt;
  if (auto usage = read_file((dir / usage_name).string())) {
    out.usage_bytes = parse_u64(*usage).value_or(0);
  }
  return out;
}

Result<uint64_t> read_process_rss_bytes(const SystemPaths& paths) {
  auto text = read_file(paths.proc_self_status);
  if (!text) return NotFoundError("cannot read {}", paths.proc_self_status);
  std::istringstream lines(*text);
  for (std::string line; std::getline(lines, line);) {
    // "VmRSS:\t  123456 kB"
    if (!line.starts_with("VmRSS:")) continue;
    std::string_view rest = trim(std::string_view(line).substr(6));
    if (rest.size() < 3 || rest.substr(rest.size() - 3) != " kB") {
      return DataLossError("{}: line '{}' does not end in ' kB'", paths.proc_self_status, line);
    }
    auto kib = parse_u64(rest.substr(0, rest.size() - 3));
    if (!kib) return DataLossError("{}: line '{}' has no number", paths.proc_self_status, line);
    return *kib * 1024;
  }
  return DataLossError("{} has no VmRSS line", paths.proc_self_status);
}

Result<CpuBudgetReport> compute_cpu_budget(const MemInfo& meminfo,
                                           const std::optional<CgroupMemory>& cgroup) {
  CpuBudgetReport r;
  r.meminfo = meminfo;
  r.cgroup = cgroup;
  r.available_bytes = meminfo.available_bytes;
  std::string source = fmt::format("MemAvailable {}", format_bytes(meminfo.available_bytes));
  if (cgroup) {
    uint64_t cgroup_free =
        cgroup->limit_bytes > cgroup->usage_bytes ? cgroup->limit_bytes - cgroup->usage_bytes : 0;
    if (cgroup_free < r.available_bytes) {
      r.available_bytes = cgroup_free;
      source = fmt::format("cgroup v{} limit {} - usage {}", cgroup->version,
                           format_bytes(cgroup->limit_bytes), format_bytes(cgroup->usage_bytes));
    }
  }
  r.headroom_bytes = std::max(kMinHeadroomBytes, r.available_bytes / kHeadroomDivisor);
  if (r.available_bytes <= r.headroom_bytes) {
    return ResourceExhaustedError(
        "only {} of memory is available ({}), not more than the {} headroom keel leaves "
        "for the system; free memory or set --memory-limit explicitly",
        format_bytes(r.available_bytes), source, format_bytes(r.headroom_bytes));
  }
  r.budget_bytes = r.available_bytes - r.headroom_bytes;
  r.explanation = fmt::format("budget {} = available {} ({}) - headroom {}",
                              format_bytes(r.budget_bytes), format_bytes(r.available_bytes),
                              source, format_bytes(r.headroom_bytes));
  return r;
}

Result<CpuBudgetReport> default_cpu_budget(const SystemPaths& paths) {
  KEEL_ASSIGN_OR_RETURN(MemInfo meminfo, read_meminfo(paths));
  return compute_cpu_budget(meminfo, read_cgroup_memory(paths));
}

Result<uint64_t> default_cpu_budget_bytes(const SystemPaths& paths) {
  KEEL_ASSIGN_OR_RETURN(CpuBudgetReport report, default_cpu_budget(paths));
  return report.budget_bytes;
}

}  // namespace keel::memory
