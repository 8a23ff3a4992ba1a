#include <CLI/CLI.hpp>

#include "cli/commands.h"

namespace ec::cli {
namespace {

struct CommandEntry {
  const char* name;
  void (*add)(CLI::App&);
};

// Every subcommand, in the order `--help` lists them.
constexpr CommandEntry kCommands[] = {
    {"version", AddVersionCommand},
    {"cel", AddCelCommand},
    {"jsonata", AddJsonataCommand},
    {"proxy", AddProxyCommand},
    {"ingest", AddIngestCommand},
    {"serve", AddServeCommand},
    {"replay", AddReplayCommand},
    {"validate", AddValidateCommand},
    {"test", AddTestCommand},
};

}  // namespace

int Main(int argc, char** argv) {
  CLI::App app{"Eventception: domain events, webhooks and changelogs synthesized from API traffic"};
  app.require_subcommand(1);
  app.set_version_flag("--version", EC_VERSION);
  for (const CommandEntry& c : kCommands) c.add(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

}  // namespace ec::cli
