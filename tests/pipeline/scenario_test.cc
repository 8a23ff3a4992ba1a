// Data-driven scenarios: <EC_SCENARIO_DIR>/<name>/ holds input.ndjson and
// expected.ndjson, and optionally spec.yaml (default: examples/shop/openapi.yaml), args (extra
// `eventception test` arguments, one line), stderr.txt (substrings stderr must contain, one per
// line) and exit_code. The runner executes `eventception test` and compares the output records
// as JSON (member order aside), line by line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "json/document.h"
#include "json/writer.h"


// One runner for every scenario folder: tests/cdc builds this file again with its own folder.
#ifndef EC_SCENARIO_DIR
#define EC_SCENARIO_DIR "tests/pipeline/scenarios"
#endif
#ifndef EC_SCENARIO_SUITE
#define EC_SCENARIO_SUITE Pipeline
#endif
#define EC_SCENARIO_STR2(x) #x
#define EC_SCENARIO_STR(x) EC_SCENARIO_STR2(x)

namespace {

namespace fs = std::filesystem;

const fs::path kScenarios = fs::path(EC_SOURCE_DIR) / EC_SCENARIO_DIR;
constexpr const char* kNow = "2026-11-27T12:00:00.000Z";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) {
    if (line.find_first_not_of(" \t\r") != std::string::npos) out.push_back(line);
  }
  return out;
}

struct RunResult {
  int exit_code = -1;
  std::string out, err;
};

RunResult RunCommand(const std::string& command, const fs::path& err_file) {
  RunResult r;
  FILE* p = popen((command + " 2>" + err_file.string()).c_str(), "r");
  if (p == nullptr) return r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadFile(err_file);
  return r;
}

std::vector<std::string> ScenarioNames() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kScenarios)) {
    if (e.is_directory()) names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, MatchesExpectedRecords) {
  fs::path dir = kScenarios / GetParam();
  // Run from the source tree with relative paths, so the spec locations in dead letters are
  // the same on every machine.
  std::string rel_dir = std::string(EC_SCENARIO_DIR) + "/" + GetParam();
  std::string spec = fs::exists(dir / "spec.yaml") ? rel_dir + "/spec.yaml" : "examples/shop/openapi.yaml";
  std::string args = fs::exists(dir / "args") ? Lines(ReadFile(dir / "args")).at(0) : "";
  std::string cmd = "cd '" + std::string(EC_SOURCE_DIR) + "' && '" + std::string(EC_BINARY) + "' test --spec " +
                    spec + " --now " + kNow + " " + args + " " + rel_dir + "/input.ndjson";
  fs::path err_file = fs::temp_directory_path() / ("ec_scenario_" + std::string(EC_SCENARIO_STR(EC_SCENARIO_SUITE)) + GetParam() + "_" + std::to_string(getpid()) + ".err");
  RunResult r = RunCommand(cmd, err_file);
  fs::remove(err_file);
  int want_exit = fs::exists(dir / "exit_code") ? std::stoi(ReadFile(dir / "exit_code")) : 0;
  ASSERT_EQ(r.exit_code, want_exit) << cmd << "\nstderr:\n" << r.err;
  if (fs::exists(dir / "stderr.txt")) {
    for (const std::string& want : Lines(ReadFile(dir / "stderr.txt"))) {
      EXPECT_NE(r.err.find(want), std::string::npos) << "stderr lacks: " << want << "\nstderr:\n" << r.err;
    }
  }
  std::vector<std::string> got = Lines(r.out);
  std::vector<std::string> want = Lines(ReadFile(dir / "expected.ndjson"));
  EXPECT_EQ(got.size(), want.size()) << "output:\n" << r.out;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    auto g = ec::json::Parse(got[i]);
    auto w = ec::json::Parse(want[i]);
    ASSERT_TRUE(g.ok()) << "output line " << i + 1 << " is not JSON: " << got[i];
    ASSERT_TRUE(w.ok()) << "expected line " << i + 1 << " is not JSON: " << want[i];
    EXPECT_TRUE(ec::json::Equal((*g)->root(), (*w)->root()))
        << "record " << i + 1 << "\n got: " << got[i] << "\nwant: " << want[i];
  }
}

INSTANTIATE_TEST_SUITE_P(EC_SCENARIO_SUITE, Scenario, ::testing::ValuesIn(ScenarioNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
