// The official openai npm client against the server (FakeEngine behind it).
// Skips with a message when node or the npm package is missing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/testdata.h"
#include "http_test_util.h"

namespace keel::server::testing {
namespace {

using namespace std::chrono_literals;

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string p = dir + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return std::nullopt;
}

// Runs argv with stdout+stderr to `log`; kills it after `timeout`.
int run_bounded(const std::vector<std::string>& argv, const std::string& log,
                std::chrono::seconds timeout) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  auto until = SteadyClock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (SteadyClock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -2;
    }
    std::this_thread::sleep_for(20ms);
  }
}

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
