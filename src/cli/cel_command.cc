#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>

#include "cel/cel.h"
#include "cli/commands.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::cli {
namespace {

struct CelArgs {
  std::string expr;
  std::string data;  // file path, "-" for stdin, or empty
};

// Reads `path` ("-" = stdin) into `out`; false with a message on failure.
bool ReadInput(const std::string& path, std::string* out) {
  if (path == "-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::cerr << "eventception cel: cannot read data file '" << path << "'\n";
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = ss.str();
  return true;
}

int RunCel(const CelArgs& args) {
  auto program = cel::Compile(args.expr);
  if (!program.ok()) {
    std::cerr << "eventception cel: " << program.status().ToString() << "\n";
    return 1;
  }
  std::unique_ptr<json::Document> doc;
  cel::Activation activation;
  if (!args.data.empty()) {
    std::string text;
    if (!ReadInput(args.data, &text)) return 1;
    auto parsed = json::Parse(text);
    if (!parsed.ok()) {
      std::cerr << "eventception cel: data " << (args.data == "-" ? "<stdin>" : args.data) << ": "
                << parsed.status().ToString() << "\n";
      return 1;
    }
    doc = std::move(parsed).value();
    if (!doc->root().is_object()) {
      std::cerr << "eventception cel: data must be a JSON object (its members become variables)\n";
      return 1;
    }
    activation.set_root(&doc->root());
  }
  cel::EvalContext ctx;
  cel::Value result = cel::Evaluate(**program, activation, &ctx);
  Arena arena;
  json::Builder builder(&arena);
  auto out = cel::ToJson(result, builder);
  if (!out.ok()) {
    std::cerr << "eventception cel: " << out.status().ToString() << "\n";
    return 1;
  }
  std::cout << json::ToJson(*out) << "\n";
  return 0;
}

}  // namespace

void AddCelCommand(CLI::App& app) {
  auto args = std::make_shared<CelArgs>();
  auto* cmd = app.add_subcommand("cel", "Evaluate a CEL expression and print the result as JSON");
  cmd->add_option("expr", args->expr, "The CEL expression")->required();
  cmd->add_option("--data", args->data,
                  "JSON object whose members become variables (a file, or - for stdin)");
  cmd->callback([args] {
    int rc = RunCel(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
