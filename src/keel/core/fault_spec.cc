// Parsing and printing of fault specs (grammar in fault.h).
#include <charconv>
#include <cmath>
#include <limits>

#include "keel/core/fault.h"

namespace keel::fault {
namespace {

constexpr std::string_view kSyntax =
    "POINT[:PARAM]... entries separated by ','; PARAM is one of nth=N, every=N, after=N, "
    "p=P (0..1, with seed=S), count=K, stall=D (250ms, 2s, 500us), rank=R, phase=NAME; "
    "at most one of nth/every/after/p";

std::string point_list() {
  std::string out;
  for (const PointInfo& p : fault_points()) {
    if (!out.empty()) out += ", ";
    out += p.name;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view s) {
  struct Unit {
    std::string_view suffix;
    double ns;
  };
  // Longest suffixes first, so "ms" is not read as "s".
  static constexpr Unit kUnits[] = {{"ns", 1.0}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}};
  for (const Unit& u : kUnits) {
    if (s.size() <= u.suffix.size() || !s.ends_with(u.suffix)) continue;
    auto v = parse_double(s.substr(0, s.size() - u.suffix.size()));
    if (!v || *v < 0 || *v * u.ns > 1e18) return std::nullopt;
    return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(*v * u.ns)));
  }
  return std::nullopt;
}

std::string format_duration(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns != 0 && ns % 1'000'000'000 == 0) return fmt::format("{}s", ns / 1'000'000'000);
  if (ns % 1'000'000 == 0) return fmt::format("{}ms", ns / 1'000'000);
  if (ns % 1'000 == 0) return fmt::format("{}us", ns / 1'000);
  return fmt::format("{}ns", ns);
}

Status entry_error(std::string_view entry, std::string_view what) {
  return InvalidArgumentError("fault spec entry '{}': {}. Points: {}. Syntax: {}", entry, what,
                              point_list(), kSyntax);
}

Result<ArmSpec> parse_entry(std::string_view entry) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t colon = entry.find(':', start);
    parts.push_back(trim(entry.substr(start, colon - start)));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  std::string_view name = parts[0];
  std::optional<Point> point = point_by_name(name);
  if (!point) return entry_error(entry, fmt::format("unknown point '{}'", name));
  ArmSpec spec;
  spec.point = *point;
  bool seen_seed = false, seen_count = false, seen_stall = false, seen_rank = false;
  bool seen_phase = false;
  for (size_t i = 1; i < parts.size(); ++i) {
    std::string_view param = parts[i];
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      return entry_error(entry, fmt::format("parameter '{}' is not key=value", param));
    }
    std::string_view key = trim(param.substr(0, eq));
    std::string_view value = trim(param.substr(eq + 1));
    auto bad_value = [&](std::string_view expected) {
      return entry_error(entry, fmt::format("{}={} is not {}", key, value, expected));
    };
    auto set_when = [&](ArmSpec::When when) -> Status {
      if (spec.when != ArmSpec::When::kAlways) {
        return entry_error(entry, "at most one of nth, every, after, p");
      }
      spec.when = when;
      return OkStatus();
    };
    auto once = [&](bool& seen) -> Status {
      if (seen) return entry_error(entry, fmt::format("{} given twice", key));
      seen = true;
      return OkStatus();
    };
    if (key == "nth" || key == "every" || key == "after") {
      auto n = parse_u64(value);
      bool zero_ok = key == "after";
      if (!n || (*n == 0 && !zero_ok)) {
        return bad_value(zero_ok ? "a count >= 0" : "a count >= 1");
      }
      KEEL_RETURN_IF_ERROR(set_when(key == "nth"     ? ArmSpec::When::kNth
                                    : key == "every" ? ArmSpec::When::kEvery
                                                     : ArmSpec::When::kAfter));
      spec.n = *n;
    } else if (key == "p") {
      auto p = parse_double(value);
      if (!p || *p < 0 || *p > 1) return bad_value("a probability between 0 and 1");
      KEEL_RETURN_IF_ERROR(set_when(ArmSpec::When::kProbability));
      spec.probability = *p;
    } else if (key == "seed") {
      KEEL_RETURN_IF_ERROR(once(seen_seed));
      auto s = parse_u64(value);
      if (!s) return bad_value("an unsigned integer");
      spec.seed = *s;
    } else if (key == "count") {
      KEEL_RETURN_IF_ERROR(once(seen_count));
      auto k = parse_u64(value);
      if (!k || *k == 0) return bad_value("a count >= 1");
      spec.max_injections = *k;
    } else if (key == "stall") {
      KEEL_RETURN_IF_ERROR(once(seen_stall));
      auto d = parse_duration(value);
      if (!d) return bad_value("a duration such as 250ms, 2s, 1.5s, 500us");
      spec.stall = *d;
    } else if (key == "rank") {
      KEEL_RETURN_IF_ERROR(once(seen_rank));
      auto r = parse_u64(value);
      if (!r || *r > static_cast<uint64_t>(std::numeric_limits<int>::max())) {
        return bad_value("a rank >= 0");
      }
      spec.rank = static_cast<int>(*r);
    } else if (key == "phase") {
      KEEL_RETURN_IF_ERROR(once(seen_phase));
      if (value.empty()) return bad_value("a phase name");
      spec.phase = std::string(value);
    } else {
      return entry_error(entry, fmt::format("unknown parameter '{}'", key));
    }
  }
  if (seen_seed && spec.when != ArmSpec::When::kProbability) {
    return entry_error(entry, "seed= needs p=");
  }
  return spec;
}

}  // namespace

Result<std::vector<ArmSpec>> parse_spec(std::string_view spec) {
  std::vector<ArmSpec> out;
  if (trim(spec).empty()) return out;
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    std::string_view entry = trim(spec.substr(start, comma - start));
    if (entry.empty()) {
      return InvalidArgumentError("fault spec '{}' has an empty entry. Points: {}. Syntax: {}",
                                  spec, point_list(), kSyntax);
    }
    KEEL_ASSIGN_OR_RETURN(ArmSpec parsed, parse_entry(entry));
    out.push_back(std::move(parsed));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string ArmSpec::to_string() const {
  std::string out(point_name(point));
  switch (when) {
    case When::kAlways: break;
    case When::kNth: out += fmt::format(":nth={}", n); break;
    case When::kEvery: out += fmt::format(":every={}", n); break;
    case When::kAfter: out += fmt::format(":after={}", n); break;
    case When::kProbability: out += fmt::format(":p={}:seed={}", probability, seed); break;
  }
  if (max_injections > 0) out += fmt::format(":count={}", max_injections);
  if (stall.has_value()) out += ":stall=" + format_duration(*stall);
  if (rank >= 0) out += fmt::format(":rank={}", rank);
  if (!phase.empty()) out += ":phase=" + phase;
  return out;
}

std::string help_text() {
  std::string out = fmt::format(
      "Fault injection (--inject-fault SPEC, or KEEL_FAULTS=SPEC)\n  {}\n"
      "  stall points stall {} ms unless stall= says otherwise; with stall= any point stalls\n"
      "  instead of failing.\nPoints:\n",
      kSyntax, kDefaultStall.count());
  for (const PointInfo& p : fault_points()) out += fmt::format("  {:<22} {}\n", p.name, p.doc);
  return out;
}

}  // namespace keel::fault
