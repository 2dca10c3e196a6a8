// ServerMetrics: keel's metric set on a metrics::Registry, and the events
// that update it. Names (README.md lists them with their meaning):
//   keel_requests_running / keel_requests_waiting            gauges (engine)
//   keel_requests_finished_total{finish_reason,finish_detail} counter, per choice
//   keel_requests_rejected_total{reason}                      counter, per HTTP request
//   keel_http_requests_total{route,status}                    counter
//   keel_prompt_tokens_total / keel_generation_tokens_total   counters
//   keel_time_to_first_token_seconds, keel_time_per_output_token_seconds,
//   keel_e2e_request_latency_seconds, keel_request_queue_time_seconds  histograms
//   keel_kv_blocks_used / keel_kv_blocks_capacity                gauges (engine)
//   keel_preemptions_total                                    counter (engine)
//   keel_engine_stalls_total, keel_engine_restarts_total     counters (engine watchdog)
//   keel_memory_pressure_level (0 normal, 1 warning, 2 critical)  gauge (memory monitor)
//   keel_memory_usage_ratio{resource}                         gauge (memory monitor)
//   keel_engine_heartbeat_age_seconds, keel_engine_ready      gauges (engine)
//   keel_http_connections_open                                gauge
//   process_resident_memory_bytes, process_virtual_memory_bytes  gauges (/proc)
// Thread-safety: all methods are safe to call concurrently; the on_*
// methods are lock-free on their hot path except for labeled lookups.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "keel/server/engine_interface.h"
#include "keel/server/metrics.h"

namespace keel::server {

class ServerMetrics {
 public:
  ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // One engine request (one choice) ended; called from the engine's thread.
  void on_choice_finished(const GenerationFinal& final_info);
  // An HTTP request was refused; `reason` is the ApiError code.
  void on_rejected(std::string_view reason);
  void on_http_response(std::string_view route, int http_status);

  // Refreshes the engine and process gauges, then renders the registry.
  std::string render(const EngineSnapshot& engine, int64_t open_connections);

  metrics::Registry& registry() { return registry_; }

 private:
  metrics::Registry registry_;
  metrics::Gauge& running_;
  metrics::Gauge& waiting_;
  metrics::CounterFamily& finished_;
  metrics::CounterFamily& rejected_;
  metrics::CounterFamily& http_requests_;
  metrics::Counter& prompt_tokens_;
  metrics::Counter& generation_tokens_;
  metrics::Histogram& ttft_;
  metrics::Histogram& tpot_;
  metrics::Histogram& e2e_;
  metrics::Histogram& queue_;
  metrics::Gauge& kv_used_;
  metrics::Gauge& kv_total_;
  metrics::Counter& preemptions_;
  metrics::Counter& stalls_;
  metrics::Counter& restarts_;
  metrics::Gauge& heartbeat_age_;
  metrics::Gauge& ready_;
  metrics::Gauge& memory_level_;
  metrics::GaugeFamily& memory_usage_;
  metrics::Gauge& connections_;
  metrics::Gauge& rss_;
  metrics::Gauge& vms_;
};

// Resident and virtual size of this process in bytes (Linux /proc), or 0.
struct ProcessMemory {
  int64_t resident_bytes = 0;
  int64_t virtual_bytes = 0;
};
ProcessMemory read_process_memory();

}  // namespace keel::server
