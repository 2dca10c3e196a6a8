#include "keel/server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "keel/core/check.h"

namespace keel::server::metrics {

void Counter::inc(double v) {
  if (!(v >= 0)) return;
  value_.fetch_add(v, std::memory_order_relaxed);
}

void Counter::raise_to(double v) {
  double cur = value_.load(std::memory_order_relaxed);
  while (v > cur && !value_.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    KEEL_CHECK(std::isfinite(bounds_[i])) << "histogram bound " << i << " is not finite";
    KEEL_CHECK(i == 0 || bounds_[i - 1] < bounds_[i]) << "histogram bounds must increase";
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double v) {
  if (std::isnan(v)) return;
  // First bucket whose upper bound is >= v (le is inclusive).
  size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative_counts.resize(bounds_.size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative_counts[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

bool is_valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool is_valid_label_name(std::string_view name) {
  if (name.empty() || name == "le" || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

FamilyBase::FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
                       MetricType type)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      type_(type) {
  KEEL_CHECK(is_valid_metric_name(name_)) << "bad metric name '" << name_ << "'";
  for (const std::string& l : label_names_) {
    KEEL_CHECK(is_valid_label_name(l)) << "bad label name '" << l << "' in " << name_;
  }
}

void FamilyBase::check_arity(size_t n) const {
  KEEL_CHECK_EQ(n, label_names_.size()) << "label values for " << name_;
}

std::string FamilyBase::label_text(const std::vector<std::string>& values) const {
  if (values.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += label_names_[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  return out;
}

void FamilyBase::render(std::string& out) const {
  std::string_view type = type_ == MetricType::kCounter ? "counter"
                          : type_ == MetricType::kGauge ? "gauge"
                                                        : "histogram";
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name_, escape_help(help_), name_, type);
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) render_child(out, child.get(), label_text(values));
}

template <typename T>
T& Family<T>::labels(const std::vector<std::string>& values) {
  check_arity(values.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, make_child()).first;
  return *static_cast<T*>(it->second.get());
}

namespace {

// `labels` is "" or "{a=\"x\"" ... "}" complete; histogram buckets need the
// open form to append le.
void append_sample(std::string& out, std::string_view name, std::string_view suffix,
                   const std::string& labels, double v) {
  out += name;
  out += suffix;
  out += labels;
  out += ' ';
  out += format_value(v);
  out += '\n';
}

}  // namespace

template <typename T>
void Family<T>::render_child(std::string& out, const void* child, const std::string& labels) const {
  const std::string closed = labels.empty() ? labels : labels + "}";
  if constexpr (std::is_same_v<T, Histogram>) {
    Histogram::Snapshot s = static_cast<const Histogram*>(child)->snapshot();
    const std::string open = labels.empty() ? std::string("{") : labels + ",";
    for (size_t i = 0; i <= s.bounds.size(); ++i) {
      std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
      std::string l = fmt::format("{}le=\"{}\"}}", open, le);
      append_sample(out, name_, "_bucket", l, static_cast<double>(s.cumulative_counts[i]));
    }
    append_sample(out, name_, "_sum", closed, s.sum);
    append_sample(out, name_, "_count", closed, static_cast<double>(s.count));
  } else {
    append_sample(out, name_, "", closed, static_cast<const T*>(child)->value());
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names, std::vector<double> bounds)
    : Family<Histogram>(std::move(name), std::move(help), std::move(label_names),
                        MetricType::kHistogram),
      bounds_(std::move(bounds)) {}

std::shared_ptr<Histogram> HistogramFamily::make_child() const {
  return std::make_shared<Histogram>(bounds_);
}

void Registry::add(std::unique_ptr<FamilyBase> family) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& f : families_) {
    KEEL_CHECK(f->name() != family->name()) << "metric " << family->name() << " registered twice";
  }
  families_.push_back(std::move(family));
}

CounterFamily& Registry::counter(std::string name, std::string help,
                                 std::vector<std::string> label_names) {
  auto f = std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names),
                                           MetricType::kCounter);
  CounterFamily& ref = *f;
  add(std::move(f));
  return ref;
}

GaugeFamily& Registry::gauge(std::string name, std::string help,
                             std::vector<std::string> label_names) {
  auto f = std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names),
                                         MetricType::kGauge);
  GaugeFamily& ref = *f;
  add(std::move(f));
  return ref;
}

HistogramFamily& Registry::histogram(std::string name, std::string help,
                                     std::vector<std::string> label_names,
                                     std::vector<double> bounds) {
  auto f = std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                             std::move(label_names), std::move(bounds));
  HistogramFamily& ref = *f;
  add(std::move(f));
  return ref;
}

std::string Registry::render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& f : families_) f->render(out);
  return out;
}

}  // namespace keel::server::metrics
