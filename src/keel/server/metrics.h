// A small Prometheus metrics registry: counters, gauges and histograms with
// labels, rendered in the text exposition format 0.0.4 (HELP and TYPE lines,
// escaped label values, cumulative histogram buckets with le="+Inf", _sum
// and _count). Debian 12 has no Prometheus C++ library; this is the part of
// one a server needs.
//
// Usage
//   Registry reg;
//   CounterFamily& req = reg.counter("keel_requests_total", "Requests.", {"route"});
//   Counter& c = req.labels({"/v1/completions"});   // stable reference; cache it
//   c.inc();
//   std::string text = reg.render();
//
// Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and label names
// [a-zA-Z_][a-zA-Z0-9_]* (not "le", not "__*"); a bad name, a registered
// name reused, or a wrong number of label values is a bug (KEEL_CHECK).
// Thread-safety: everything is safe to call concurrently. Updates are
// lock-free atomics; labels() takes the family's mutex (cache the child on
// hot paths); render() takes each family's mutex in turn, so a scrape sees
// each child's value atomically but not all families at one instant.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace keel::server::metrics {

class Counter {
 public:
  // v >= 0 (a negative increment is ignored: counters never go down).
  void inc(double v = 1);
  // For a counter mirrored from a monotonic source (e.g. the engine's
  // preemption total): raises the value to v, never lowers it.
  void raise_to(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: upper bounds, strictly increasing, finite; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  Histogram() : Histogram(std::vector<double>{}) {}  // only the +Inf bucket
  void observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative_counts.back()
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, +Inf last
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// The metric name's family: HELP, TYPE, label names, one child per distinct
// label values.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::vector<std::string> label_names,
             MetricType type);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 protected:
  // Appends the samples of one child; `labels` is `{a="x",b="y"` without the
  // closing brace, or empty.
  virtual void render_child(std::string& out, const void* child,
                            const std::string& labels) const = 0;
  std::string label_text(const std::vector<std::string>& values) const;
  void check_arity(size_t n) const;

  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const MetricType type_;
  mutable std::mutex mu_;
  // Ordered, so the output is deterministic.
  std::map<std::vector<std::string>, std::shared_ptr<void>> children_;
};

template <typename T>
class Family : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  // Get or create the child for these label values (one per label name).
  T& labels(const std::vector<std::string>& values);

 protected:
  void render_child(std::string& out, const void* child, const std::string& labels) const override;
  virtual std::shared_ptr<T> make_child() const { return std::make_shared<T>(); }
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;

class HistogramFamily : public Family<Histogram> {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> bounds);

 protected:
  std::shared_ptr<Histogram> make_child() const override;

 private:
  std::vector<double> bounds_;
};

class Registry {
 public:
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names, std::vector<double> bounds);

  // Text exposition format 0.0.4, families in registration order.
  std::string render() const;

 private:
  void add(std::unique_ptr<FamilyBase> family);

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_;
};

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Exposition helpers (tested on their own).
std::string format_value(double v);                  // "1", "0.25", "+Inf", "-Inf", "NaN"
std::string escape_label_value(std::string_view v);  // \ → \\, " → \", newline → \n
std::string escape_help(std::string_view v);         // \ → \\, newline → \n
bool is_valid_metric_name(std::string_view name);
bool is_valid_label_name(std::string_view name);

}  // namespace keel::server::metrics
