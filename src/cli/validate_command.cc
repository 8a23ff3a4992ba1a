#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "spec/spec.h"

namespace ec::cli {

void AddValidateCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("validate",
                                 "Load OpenAPI specs and compile every x-eventception annotation; "
                                 "exit 1 with file:line:col errors");
  auto specs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("--spec", *specs, "OpenAPI 3.0/3.1 document (YAML or JSON); repeat for several APIs")
      ->required()
      ->expected(1, -1);
  cmd->callback([specs] {
    Result<std::shared_ptr<const spec::CompiledSpecs>> loaded = spec::LoadSpecs(*specs);
    if (!loaded.ok()) {
      std::cerr << loaded.status().message() << "\n";
      throw CLI::RuntimeError(1);
    }
    size_t ops = 0, events = 0, resources = 0;
    for (const auto& api : (*loaded)->apis()) {
      ops += api->operations.size();
      resources += api->resources.size();
      for (const auto& op : api->operations) events += op->events.size();
    }
    std::cout << "ok: " << (*loaded)->apis().size() << " API(s), " << ops << " operation(s), " << events
              << " event definition(s), " << resources << " resource(s)\n";
  });
}

}  // namespace ec::cli
