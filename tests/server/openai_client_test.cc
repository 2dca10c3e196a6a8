// The official openai npm client against the server (FakeEngine behind it).
// Skips with a message when node or the npm package is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/process.h"
#include "common/testdata.h"
#include "http_test_util.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

using keel::testing::find_in_path;
using keel::testing::run_bounded;

class OpenAiClientTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerConfig cfg = test_config();
    cfg.api_key = "test-key";
    start(cfg);
  }
};

TEST_F(OpenAiClientTest, NodeClientAgainstTheServer) {
  auto node = find_in_path("node");
  if (!node) GTEST_SKIP() << "node not found: install nodejs (scripts/install-deps.sh)";
  auto modules = keel::testing::testdata_dir();
  if (!modules || !std::filesystem::exists(*modules + "/openai/index.mjs")) {
    GTEST_SKIP() << "npm package openai missing: run scripts/setup-testdata.sh";
  }
  const char* src = std::getenv("KEEL_SOURCE_DIR");
  std::string script = std::string(src ? src : ".") + "/tests/server/openai_client.mjs";
  ASSERT_TRUE(std::filesystem::exists(script)) << script;
  engine_->set_script([](const GenerationRequest& g) {
    FakeScript s;
    // "please fail" as the prompt: BOS + 11 bytes.
    if (g.prompt_ids.size() == 12) s.fail_after = 1;
    return s;
  });
  std::string log = std::filesystem::temp_directory_path() /
                    ("keel_openai_client_" + std::to_string(::getpid()) + ".log");
  int rc = run_bounded({*node, script, std::to_string(port_), *modules + "/openai"}, log, 60s);
  std::string out = keel::testing::read_text_file(log);
  std::filesystem::remove(log);
  std::printf("%s", out.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("all ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace keel::server::testing
