#pragma once
// A subscription's optional CEL filter over the CloudEvent: its attributes and `data` are
// variables, and `event` is the whole event (write `event.type`: `type` is a CEL built-in).

#include <memory>
#include <string_view>

#include "base/status.h"
#include "delivery/cloud_event.h"

namespace ec::delivery {

class EventFilter {
 public:
  virtual ~EventFilter() = default;
  // Whether `event` passes. An evaluation error (e.g. a missing field) is returned as a Status;
  // the dispatcher treats it as "does not match" and counts it.
  virtual Result<bool> Matches(const CloudEvent& event) const = 0;
};

// Compiles `source`. kParseError with line:col and a caret (the CEL compiler's message), or
// kUnsupported when this build has no CEL evaluator.
Result<std::shared_ptr<const EventFilter>> CompileFilter(std::string_view source);

}  // namespace ec::delivery
