#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "json/document.h"
#include "json/writer.h"
#include "jsonata/jsonata.h"

namespace ec::cli {
namespace {

struct JsonataArgs {
  std::string expr;
  std::string data;
  std::vector<std::string> binds;
};

bool ReadAll(const std::string& path, std::string* out) {
  if (path == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    *out = ss.str();
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// Returns the exit code: 0 success (printed result or nothing for undefined), 1 error.
int Run(const JsonataArgs& a) {
  jsonata::Error error;
  auto expr = jsonata::Compile(a.expr, jsonata::JsonataOptions{}, &error);
  if (!expr.ok()) {
    std::cerr << "eventception jsonata: " << expr.status().message() << "\n";
    return 1;
  }
  std::vector<std::unique_ptr<json::Document>> docs;
  jsonata::MaybeValue input;
  if (!a.data.empty()) {
    std::string text;
    if (!ReadAll(a.data, &text)) {
      std::cerr << "eventception jsonata: cannot read --data file '" << a.data << "'\n";
      return 1;
    }
    auto doc = json::Parse(text);
    if (!doc.ok()) {
      std::cerr << "eventception jsonata: --data " << a.data << ": " << doc.status().message() << "\n";
      return 1;
    }
    input = jsonata::Defined((*doc)->root());
    docs.push_back(std::move(doc).value());
  }
  jsonata::Bindings bindings;
  for (const std::string& b : a.binds) {
    size_t eq = b.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "eventception jsonata: --bind '" << b << "' must look like NAME=JSON (e.g. --bind limit=10)\n";
      return 1;
    }
    auto doc = json::Parse(b.substr(eq + 1));
    if (!doc.ok()) {
      std::cerr << "eventception jsonata: --bind " << b.substr(0, eq) << ": value is not JSON: "
                << doc.status().message() << " (quote strings: --bind name='\"text\"')\n";
      return 1;
    }
    std::string name = b.substr(0, eq);
    if (!name.empty() && name[0] == '$') name = name.substr(1);
    bindings.Set(name, (*doc)->root());
    docs.push_back(std::move(doc).value());
  }
  Arena arena;
  auto out = (*expr)->Evaluate(input, &arena, &bindings, &error);
  if (!out.ok()) {
    std::cerr << "eventception jsonata: " << out.status().message() << "\n";
    return 1;
  }
  if (out->defined) std::cout << json::ToJson(out->value) << "\n";
  return 0;
}

}  // namespace

void AddJsonataCommand(CLI::App& app) {
  auto args = std::make_shared<JsonataArgs>();
  auto* cmd = app.add_subcommand("jsonata", "Evaluate a JSONata expression and print the result as JSON");
  cmd->add_option("expr", args->expr, "The JSONata expression")->required();
  cmd->add_option("--data", args->data, "Input JSON file, or - for standard input (default: no input)");
  cmd->add_option("--bind", args->binds, "Bind $NAME to a JSON value: NAME=JSON (repeatable)");
  cmd->callback([args] {
    int rc = Run(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
