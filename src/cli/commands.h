#pragma once
// The `eventception` subcommands. Each is one file (`<name>_command.cc`) that adds itself to
// the app through the table in app.cc; a command reports failure by throwing
// CLI::RuntimeError(exit_code) from its callback (CLI11's convention, outside data paths).

namespace CLI {
class App;
}

namespace ec::cli {

void AddVersionCommand(CLI::App& app);
void AddCelCommand(CLI::App& app);
void AddJsonataCommand(CLI::App& app);
void AddProxyCommand(CLI::App& app);
void AddIngestCommand(CLI::App& app);
void AddServeCommand(CLI::App& app);
void AddReplayCommand(CLI::App& app);
void AddValidateCommand(CLI::App& app);
void AddTestCommand(CLI::App& app);

// Runs the command line; returns the process exit code.
int Main(int argc, char** argv);

}  // namespace ec::cli
