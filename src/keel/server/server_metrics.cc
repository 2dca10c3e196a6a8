#include "keel/server/server_metrics.h"

#include <unistd.h>

#include <fstream>

namespace keel::server {
namespace {

std::vector<double> latency_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
          1,     2.5,   5,    7.5,  10,   20,   40,   80,  160,  640};
}
std::vector<double> tpot_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
          0.3,   0.4,    0.5,   0.75, 1,     2.5,  5,     7.5, 10,   20};
}
std::vector<double> e2e_buckets() {
  return {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1,   1.5, 2,   2.5, 5,    10,
          15,   20,   30,  40,  50,  60,  120, 240, 480, 960, 1920, 3600};
}

}  // namespace

ProcessMemory read_process_memory() {
  ProcessMemory m;
  std::ifstream statm("/proc/self/statm");
  int64_t size_pages = 0, resident_pages = 0;
  if (statm >> size_pages >> resident_pages) {
    const int64_t page = sysconf(_SC_PAGESIZE);
    m.virtual_bytes = size_pages * page;
    m.resident_bytes = resident_pages * page;
  }
  return m;
}

ServerMetrics::ServerMetrics()
    : running_(
          registry_.gauge("keel_requests_running", "Requests the engine is running.").labels({})),
      waiting_(registry_
                   .gauge("keel_requests_waiting",
                          "Requests queued in the engine, preempted ones included.")
                   .labels({})),
      finished_(registry_.counter(
          "keel_requests_finished_total",
          "Engine requests (one per choice) that ended, by OpenAI finish_reason and keel detail.",
          {"finish_reason", "finish_detail"})),
      rejected_(registry_.counter("keel_requests_rejected_total",
                                  "HTTP requests refused with an error, by error code.",
                                  {"reason"})),
      http_requests_(registry_.counter("keel_http_requests_total",
                                       "HTTP responses by route and status.", {"route", "status"})),
      prompt_tokens_(
          registry_
              .counter("keel_prompt_tokens_total", "Prompt tokens of finished engine requests.")
              .labels({})),
      generation_tokens_(registry_
                             .counter("keel_generation_tokens_total",
                                      "Generated tokens of finished engine requests.")
                             .labels({})),
      ttft_(registry_
                .histogram("keel_time_to_first_token_seconds",
                           "Time from submit to the first generated token.", {}, latency_buckets())
                .labels({})),
      tpot_(registry_
                .histogram("keel_time_per_output_token_seconds",
                           "Mean time per generated token after the first, per request.", {},
                           tpot_buckets())
                .labels({})),
      e2e_(registry_
               .histogram("keel_e2e_request_latency_seconds",
                          "Time from submit to the end of an engine request.", {}, e2e_buckets())
               .labels({})),
      queue_(registry_
                 .histogram("keel_request_queue_time_seconds",
                            "Time from submit until first scheduled.", {}, latency_buckets())
                 .labels({})),
      kv_used_(registry_.gauge("keel_kv_blocks_used", "KV cache blocks in use.").labels({})),
      kv_total_(
          registry_.gauge("keel_kv_blocks_capacity", "KV cache blocks in the pool.").labels({})),
      preemptions_(registry_
                       .counter("keel_preemptions_total",
                                "Times a request's KV cache was dropped to be recomputed.")
                       .labels({})),
      stalls_(registry_
                  .counter("keel_engine_stalls_total",
                           "Engine steps the watchdog found stalled (their requests failed).")
                  .labels({})),
      restarts_(registry_
                    .counter("keel_engine_restarts_total",
                             "Engine worker restarts after a stalled step was aborted.")
                    .labels({})),
      heartbeat_age_(registry_
                         .gauge("keel_engine_heartbeat_age_seconds",
                                "Seconds since the engine loop last showed progress (-1: not "
                                "started).")
                         .labels({})),
      ready_(
          registry_.gauge("keel_engine_ready", "1 when the model is loaded and admission is open.")
              .labels({})),
      memory_level_(registry_
                        .gauge("keel_memory_pressure_level",
                               "Memory monitor level: 0 normal, 1 warning, 2 critical.")
                        .labels({})),
      memory_usage_(registry_.gauge("keel_memory_usage_ratio",
                                    "Memory in use as a fraction of its limit, per resource.",
                                    {"resource"})),
      connections_(
          registry_.gauge("keel_http_connections_open", "Open HTTP connections.").labels({})),
      rss_(registry_.gauge("process_resident_memory_bytes", "Resident memory size of the process.")
               .labels({})),
      vms_(registry_.gauge("process_virtual_memory_bytes", "Virtual memory size of the process.")
               .labels({})) {}

void ServerMetrics::on_choice_finished(const GenerationFinal& f) {
  std::string detail = f.finish_detail.empty() ? "none" : f.finish_detail;
  std::string reason(sampling::finish_reason_name(f.finish_reason));
  if (reason.empty()) reason = "none";
  finished_.labels({reason, detail}).inc();
  prompt_tokens_.inc(static_cast<double>(f.prompt_tokens));
  generation_tokens_.inc(static_cast<double>(f.completion_tokens));
  if (f.ttft_seconds > 0) ttft_.observe(f.ttft_seconds);
  if (f.tpot_seconds > 0) tpot_.observe(f.tpot_seconds);
  if (f.e2e_seconds > 0) e2e_.observe(f.e2e_seconds);
  if (f.queue_seconds > 0 || f.ttft_seconds > 0) queue_.observe(f.queue_seconds);
}

void ServerMetrics::on_rejected(std::string_view reason) {
  rejected_.labels({std::string(reason)}).inc();
}

void ServerMetrics::on_http_response(std::string_view route, int http_status) {
  http_requests_.labels({std::string(route), std::to_string(http_status)}).inc();
}

std::string ServerMetrics::render(const EngineSnapshot& e, int64_t open_connections) {
  running_.set(static_cast<double>(e.num_running));
  waiting_.set(static_cast<double>(e.num_waiting));
  kv_used_.set(static_cast<double>(e.kv_blocks_used));
  kv_total_.set(static_cast<double>(e.kv_blocks_total));
  preemptions_.raise_to(static_cast<double>(e.num_preemptions));
  stalls_.raise_to(static_cast<double>(e.num_stalls));
  restarts_.raise_to(static_cast<double>(e.num_worker_restarts));
  heartbeat_age_.set(e.heartbeat_age ? static_cast<double>(e.heartbeat_age->count()) / 1000.0
                                     : -1.0);
  ready_.set(e.ready ? 1 : 0);
  memory_level_.set(e.memory_level);
  for (const auto& [resource, fraction] : e.memory_usage) memory_usage_.labels({resource}).set(fraction);
  connections_.set(static_cast<double>(open_connections));
  ProcessMemory mem = read_process_memory();
  rss_.set(static_cast<double>(mem.resident_bytes));
  vms_.set(static_cast<double>(mem.virtual_bytes));
  return registry_.render();
}

}  // namespace keel::server
