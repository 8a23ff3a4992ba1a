#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

namespace ec::cli {

// Placeholder until the jsonata library lands (its issue replaces this file).
void AddJsonataCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("jsonata", "Evaluate a jsonata expression (not built yet)");
  cmd->allow_extras();
  cmd->callback([] {
    std::cerr << "eventception jsonata: not built yet\n";
    throw CLI::RuntimeError(2);
  });
}

}  // namespace ec::cli
