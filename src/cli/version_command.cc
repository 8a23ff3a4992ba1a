#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

namespace ec::cli {

void AddVersionCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("version", "Print the version and exit");
  cmd->callback([] { std::cout << "eventception " << EC_VERSION << "\n"; });
}

}  // namespace ec::cli
