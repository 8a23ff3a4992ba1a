// The one binary: every subcommand is wired in src/cli/app.cc.
#include "cli/commands.h"

int main(int argc, char** argv) { return ec::cli::Main(argc, argv); }
