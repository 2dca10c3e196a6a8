// Differential test: keel's renderer against Python Jinja2 configured as
// transformers configures it (tools/jinja_reference.py), byte for byte.
//
// gen_cases.py writes the jobs (real chat templates from the npm test data
// and template styles in data/models over generated conversations, plus the
// feature templates in data/synthetic); the reference renders them; keel
// must give the identical string, or fail where Jinja2 fails — with the
// same message when the template called raise_exception().
// Exit code 77 (skip) when the npm test data is missing; a missing jinja2
// fails with how to install it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "keel/template/template.h"

namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::chrono::system_clock::time_point fixed_now() {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 6;
  tm.tm_mday = 26;
  tm.tm_hour = 10;
  tm.tm_min = 30;
  tm.tm_isdst = -1;
  return std::chrono::system_clock::from_time_t(std::mktime(&tm));
}

TEST(TemplateDifferential, KeelMatchesJinja2) {
  std::string src = env_or("KEEL_SOURCE_DIR", KEEL_SOURCE_DIR_DEFAULT);
  std::string testdata = env_or("KEEL_TESTDATA", src + "/.deps/npm/node_modules");
  std::string python = env_or("KEEL_PYTHON3", "/usr/bin/python3");
  auto dir = std::filesystem::temp_directory_path() / ("keel-template-diff-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string jobs = (dir / "jobs.jsonl").string(), refs = (dir / "ref.jsonl").string();
  int rc = std::system((shell_quote(python) + " " + shell_quote(src + "/tests/template/gen_cases.py") + " " +
                        shell_quote(testdata) + " " + shell_quote(src + "/tests/template/data") + " > " +
                        shell_quote(jobs))
                           .c_str());
  if (WEXITSTATUS(rc) == 77) GTEST_SKIP() << "npm test data missing: run scripts/setup-testdata.sh";
  ASSERT_EQ(rc, 0) << "gen_cases.py failed";
  rc = std::system((shell_quote(python) + " " + shell_quote(src + "/tools/jinja_reference.py") +
                    " --now '2024-07-26 10:30:00' " + shell_quote(jobs) + " > " + shell_quote(refs))
                       .c_str());
  ASSERT_EQ(rc, 0) << "tools/jinja_reference.py failed; it needs python3-jinja2 "
                      "(apt-get install python3-jinja2, see scripts/install-deps.sh)";

  std::ifstream jobs_in(jobs), refs_in(refs);
  std::string jline, rline;
  std::map<std::string, keel::jinja::Template> compiled;
  std::map<std::string, int> per_template;
  int cases = 0, identical = 0, both_failed = 0, failures = 0;
  keel::jinja::RenderOptions options;
  options.now = fixed_now;
  while (std::getline(jobs_in, jline)) {
    ASSERT_TRUE(std::getline(refs_in, rline)) << "reference output is short";
    auto job = nlohmann::ordered_json::parse(jline);
    auto ref = nlohmann::ordered_json::parse(rline);
    std::string id = job["id"];
    std::string source = job["template"];
    ++cases;
    ++per_template[id.substr(0, id.find('|'))];
    auto it = compiled.find(source);
    if (it == compiled.end()) {
      auto t = keel::jinja::Template::compile(source);
      if (!t.ok()) {
        if (ref["ok"].get<bool>()) {
          ADD_FAILURE() << id << ": keel cannot compile: " << t.status().to_string();
          ++failures;
        } else {
          ++both_failed;
        }
        continue;
      }
      it = compiled.emplace(source, std::move(t).value()).first;
    }
    auto out = it->second.render(job["context"], options);
    if (ref["ok"].get<bool>()) {
      if (!out.ok()) {
        if (++failures <= 30) ADD_FAILURE() << id << ": keel failed: " << out.status().to_string();
      } else if (*out != ref["output"].get<std::string>()) {
        if (++failures <= 30) {
          ADD_FAILURE() << id << ": output differs\n--- jinja2:\n"
                        << ref["output"].get<std::string>() << "\n--- keel:\n" << *out << "\n---";
        }
      } else {
        ++identical;
      }
    } else {
      std::string msg = ref["message"];
      if (out.ok()) {
        if (++failures <= 30) ADD_FAILURE() << id << ": jinja2 raised " << msg << " but keel rendered:\n" << *out;
      } else if (ref["raised"].get<bool>() &&
                 (out.status().code() != keel::StatusCode::kInvalidArgument || out.status().message() != msg)) {
        if (++failures <= 30) ADD_FAILURE() << id << ": raise_exception message differs: jinja2 '" << msg
                                            << "', keel " << out.status().to_string();
      } else {
        ++both_failed;
      }
    }
  }
  std::printf("template differential: %d cases, %d identical outputs, %d failing in both (same "
              "raise_exception message), %d mismatches\n", cases, identical, both_failed, failures);
  for (const auto& [name, n] : per_template) std::printf("  %-40s %d\n", name.c_str(), n);
  EXPECT_EQ(failures, 0);
  EXPECT_GT(cases, 1000);
  std::filesystem::remove_all(dir);
}

}  // namespace
