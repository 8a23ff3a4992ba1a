// Runs the built `eventception jsonata` command.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

struct CliRun {
  int code;
  std::string out;
};

CliRun Exec(const std::string& args) {
  std::string cmd = std::string(EC_BINARY) + " jsonata " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return {WEXITSTATUS(status), out};
}

TEST(JsonataCli, PrintsResultAsJson) {
  CliRun r = Exec("'[1,2,3].($ * 2)'");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "[2,4,6]\n");
}

TEST(JsonataCli, UndefinedPrintsNothing) {
  CliRun r = Exec("'nothing.here'");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "");
}

TEST(JsonataCli, DataFileAndBindings) {
  std::string path = testing::TempDir() + "/jsonata_cli_data.json";
  std::ofstream(path) << R"({"items": [{"sku": "a", "qty": 3}, {"sku": "b", "qty": 1}]})";
  CliRun r = Exec("'items[qty > $min].sku' --data " + path + " --bind min=2");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "\"a\"\n");
  CliRun stdin_run = Exec("'$count(items)' --data - < " + path);
  EXPECT_EQ(stdin_run.out, "2\n");
}

TEST(JsonataCli, ErrorsCarryTheCodeAndExitOne) {
  CliRun r = Exec("'1 + \"a\"'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("T2002"), std::string::npos) << r.out;
  CliRun s = Exec("'items['");
  EXPECT_EQ(s.code, 1);
  EXPECT_NE(s.out.find("S0203"), std::string::npos) << s.out;
}

}  // namespace
