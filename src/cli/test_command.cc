// `eventception test`: the offline dry run of contract §4. Same decoders and Processor as
// `serve`; nothing is written to disk; every output record is printed as one NDJSON line.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cdc/changelog_stage.h"
#include "cdc/state_store.h"
#include "cli/commands.h"
#include "json/writer.h"
#include "pipeline/exchange.h"
#include "pipeline/processor.h"
#include "spec/spec.h"

namespace ec::cli {
namespace {

struct TestArgs {
  std::vector<std::string> specs;
  std::string format = "detect";
  std::string input = "-";
  std::string now;
};

// {"topic":..,"key":..,"headers":{..},"value":..}: values are JSON text and are embedded as is.
void AppendRecordLine(const pipeline::OutputRecord& r, std::string* out) {
  *out += "{\"topic\":";
  json::AppendQuoted(r.topic, out);
  *out += ",\"key\":";
  if (const std::optional<std::string_view> key = r.key()) json::AppendQuoted(*key, out);
  else *out += "null";
  *out += ",\"headers\":{";
  bool first = true;
  for (const auto& [name, value] : r.headers()) {
    if (!first) *out += ",";
    first = false;
    json::AppendQuoted(name, out);
    *out += ":";
    json::AppendQuoted(value, out);
  }
  *out += "},\"value\":";
  *out += r.value().value_or("null");
  *out += "}\n";
}

int Run(const TestArgs& args) {
  Result<std::shared_ptr<const spec::CompiledSpecs>> specs = spec::LoadSpecs(args.specs);
  if (!specs.ok()) {
    std::cerr << specs.status().message() << "\n";
    return 1;
  }
  if (args.format != "detect") {
    bool known = false;
    std::string names;
    for (const pipeline::DecoderInfo& d : pipeline::Decoders()) {
      known = known || d.name == args.format;
      names += (names.empty() ? "" : ", ") + std::string(d.name);
    }
    if (!known) {
      std::cerr << "eventception test: unknown --format \"" << args.format << "\"; known formats: " << names
                << " or detect\n";
      return 2;
    }
  }
  pipeline::DecodeOptions options;
  options.redact = (*specs)->redact_paths();
  if (!args.now.empty()) {
    std::optional<int64_t> now = pipeline::ParseRfc3339Ms(args.now);
    if (!now) {
      std::cerr << "eventception test: --now must be an RFC 3339 time such as 2026-11-27T10:15:30.123Z\n";
      return 2;
    }
    options.now_ms = *now;
  }
  pipeline::ProcessorOptions popts;
  popts.structured_all = true;  // the contract prints events as structured CloudEvents
  pipeline::Processor processor(*specs, popts);
  // Changelogs (contract §3) with the CDC state kept in memory: nothing touches the disk.
  cdc::MemoryStateStore state;
  cdc::ChangelogStage changelogs(&state, {.dead_letter_topic = popts.dead_letter_topic});
  processor.AddStage(&changelogs);

  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.input != "-") {
    file.open(args.input, std::ios::binary);
    if (!file) {
      std::cerr << "eventception test: cannot read " << args.input << "\n";
      return 2;
    }
    in = &file;
  }
  std::string line, out;
  std::vector<json::Value> exchanges;
  std::vector<pipeline::OutputRecord> records;
  size_t line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    Arena arena;
    exchanges.clear();
    records.clear();
    Status s = pipeline::DecodeBytes(line, args.format, options, &arena, &exchanges);
    if (!s.ok()) {
      std::cerr << "eventception test: line " << line_no << " rejected: " << s.message() << "\n";
      records.push_back(pipeline::MakeDeadLetter(
          {.stage = "decode", .error = &s, .raw_text = line, .format = args.format, .timestamp_ms = options.now_ms > 0 ? options.now_ms : 0}));
    }
    for (const json::Value& x : exchanges) processor.Process(x, &arena, &records, nullptr);
    out.clear();
    for (const pipeline::OutputRecord& r : records) AppendRecordLine(r, &out);
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

void AddTestCommand(CLI::App& app) {
  auto args = std::make_shared<TestArgs>();
  auto* cmd = app.add_subcommand("test",
                                 "Offline dry run: read exchanges (NDJSON), print the records serve would "
                                 "write (one NDJSON line each)");
  cmd->add_option("--spec", args->specs, "OpenAPI 3.0/3.1 document with x-eventception; repeatable")
      ->required()
      ->expected(1, -1);
  cmd->add_option("--format", args->format, "input format: canonical, kong, har or detect")
      ->capture_default_str();
  cmd->add_option("--now", args->now, "RFC 3339 time given to records without one (default: the clock)");
  cmd->add_option("input", args->input, "NDJSON file of exchanges, or - for stdin")->capture_default_str();
  cmd->callback([args] {
    // `--spec` takes several files, so it may have swallowed the input: an NDJSON/HAR file or
    // "-" at the end of the list is the input.
    if (args->input == "-" && args->specs.size() > 1) {
      const std::string& last = args->specs.back();
      auto ends = [&](std::string_view suffix) { return last.size() >= suffix.size() && last.ends_with(suffix); };
      if (last == "-" || ends(".ndjson") || ends(".jsonl") || ends(".har")) {
        args->input = last;
        args->specs.pop_back();
      }
    }
    int rc = Run(*args);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace ec::cli
