#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

namespace ec::cli {

// Placeholder until the cel library lands (its issue replaces this file).
void AddCelCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("cel", "Evaluate a cel expression (not built yet)");
  cmd->allow_extras();
  cmd->callback([] {
    std::cerr << "eventception cel: not built yet\n";
    throw CLI::RuntimeError(2);
  });
}

}  // namespace ec::cli
