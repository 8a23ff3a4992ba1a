// Runs the built binary: `eventception cel EXPR [--data FILE|-]`.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct CliRun {
  int exit_code;
  std::string out;  // stdout and stderr
};

CliRun RunCel(const std::string& args) {
  std::string cmd = std::string(EC_BINARY) + " cel " + args + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  if (f == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) r.out.append(buf, n);
  int status = pclose(f);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

const std::string kRecord = std::string(EC_SHARED_DIR) + "/anchors/gen/record.json";

TEST(CelCli, PrintsResultAsJson) {
  CliRun r = RunCel("\"1 + 2 * 3\"");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "7\n");
  r = RunCel("\"{'t': timestamp('2025-01-15T10:00:00Z'), 'd': duration('1h'), 'b': b'hi', 'u': 3u}\"");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "{\"t\":\"2025-01-15T10:00:00Z\",\"d\":\"3600s\",\"b\":\"aGk=\",\"u\":3}\n");
}

TEST(CelCli, ReadsDataFromFileAndStdin) {
  CliRun r = RunCel("\"request.method == 'POST' && response.status == 201\" --data " + kRecord);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "true\n");
  r = RunCel("\"request.body.items.map(i, i.sku)\" --data - < " + kRecord);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out, "[\"A1\",\"B22\",\"C333\",\"D4\",\"E55\"]\n");
}

TEST(CelCli, ErrorsExitOne) {
  CliRun r = RunCel("\"response.status + 1\" --data " + kRecord);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("no such overload: _+_(double, int)"), std::string::npos) << r.out;
  r = RunCel("\"1 + (\"");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("1:6:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("^"), std::string::npos) << r.out;
  r = RunCel("\"x\" --data /nonexistent/file.json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("cannot read data file"), std::string::npos) << r.out;
}

}  // namespace
