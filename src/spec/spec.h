#pragma once
// Loading OpenAPI 3.0/3.1 documents with `x-eventception` annotations (contract §2).
//
// LoadSpecs reads YAML or JSON files, resolves local and relative-file `$ref`s, compiles every
// annotation with the CEL and JSONata engines, and builds the operation matcher. The result is
// immutable and shared (`shared_ptr<const CompiledSpecs>`, swapped atomically on reload); only
// its counters change, and they are atomics any thread may read. docs/spec-annotations.md
// describes what is accepted, the matching rules and the defaults.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "spec/expression.h"

namespace ec::spec {

// Monotonic counters read by the admin API (relaxed atomics; exact, never reset).
struct Counters {
  std::atomic<uint64_t> matched{0};  // operation: exchanges matched; event: `when` held
  std::atomic<uint64_t> emitted{0};  // events written (operation: sum over its events)
  std::atomic<uint64_t> errors{0};   // dead letters caused here
};

struct Api;
struct Operation;

// One entry of an operation's `x-eventception.events`.
struct EventDefinition {
  std::string type;                      // CloudEvents type (required)
  std::string topic;                     // default: type
  std::unique_ptr<Expression> when;      // CEL -> bool; null: 2xx responses
  std::unique_ptr<Expression> key;       // CEL -> string; null: no key
  std::unique_ptr<Expression> subject;   // CEL -> string; null: no subject
  std::unique_ptr<Expression> data;      // JSONata; null: response.body
  size_t index = 0;                      // position in the operation's list
  SourceLocation where;                  // of the list entry
  const Operation* operation = nullptr;  // owner
  mutable Counters counters;
};

// A `x-eventception.resources` entry (changelogs, CDC: the changelog issue consumes these).
struct ResourceDefinition {
  std::string name;
  std::unique_ptr<Expression> key;    // CEL -> string
  std::unique_ptr<Expression> state;  // JSONata; null: response.body
  std::string changelog;              // topic; empty: CDC off
  SourceLocation where;
};

struct Operation {
  std::string id;             // operationId; "<METHOD> <template>" when absent
  std::string method;         // upper case: GET, POST, ...
  std::string path_template;  // as written in `paths`, e.g. /orders/{orderId}
  const Api* api = nullptr;   // owner
  const ResourceDefinition* resource = nullptr;  // x-eventception.resource, or null
  std::vector<std::unique_ptr<EventDefinition>> events;
  SourceLocation where;
  mutable Counters counters;
};

struct Api {
  std::string file;     // as given to LoadSpecs
  std::string title;    // info.title (operation.api in expressions)
  std::string version;  // info.version
  std::string source;   // CloudEvents source: x-eventception.source, servers[0].url, or title
  std::vector<std::string> base_paths;  // path parts of `servers` URLs, e.g. "/api" ("" = none)
  std::vector<std::string> redact;      // x-eventception.redact paths
  std::vector<std::unique_ptr<ResourceDefinition>> resources;
  std::vector<std::unique_ptr<Operation>> operations;
};

// A path parameter of a match; views into the matched path (not yet percent-decoded) and the
// template.
struct PathParam {
  std::string_view name;
  std::string_view value;
};

class PathMatcher;

class CompiledSpecs {
 public:
  CompiledSpecs();
  ~CompiledSpecs();
  CompiledSpecs(const CompiledSpecs&) = delete;
  CompiledSpecs& operator=(const CompiledSpecs&) = delete;

  const std::vector<std::unique_ptr<Api>>& apis() const { return apis_; }
  // The union of every API's `redact` paths (redaction happens at ingest, before matching).
  std::span<const std::string> redact_paths() const { return redact_; }

  // The operation whose method and path template fit (contract §2 Matching), or null when
  // none does. `path` is the request path without query; `params` receives the path
  // parameters (views into `path` and the spec).
  const Operation* Match(std::string_view method, std::string_view path,
                         std::vector<PathParam>* params) const;

  // Exchanges that matched no operation.
  mutable std::atomic<uint64_t> unmatched{0};

 private:
  friend class SpecLoader;
  std::vector<std::unique_ptr<Api>> apis_;
  std::vector<std::string> redact_;
  std::unique_ptr<PathMatcher> matcher_;
};

// Loads and compiles `files` (OpenAPI 3.0/3.1, YAML or JSON) as one set of APIs. On failure:
// kParseError (or kIoError/kInvalidArgument) whose message lists every problem found, one per
// line, as "file:line:col: what is wrong: `the expression`".
Result<std::shared_ptr<const CompiledSpecs>> LoadSpecs(std::span<const std::string> files);

}  // namespace ec::spec
