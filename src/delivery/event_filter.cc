#include "delivery/event_filter.h"

#ifdef EC_DELIVERY_HAVE_CEL
#include "cel/cel.h"
#endif

namespace ec::delivery {

#ifdef EC_DELIVERY_HAVE_CEL
namespace {

class CelFilter : public EventFilter {
 public:
  explicit CelFilter(std::shared_ptr<const cel::Program> program) : program_(std::move(program)) {}

  Result<bool> Matches(const CloudEvent& event) const override {
    // Filters run on the dispatcher threads; one evaluation context per thread.
    thread_local cel::EvalContext ctx;
    Arena arena(1024);
    json::Builder builder(&arena);
    json::Value root = ToJsonValue(event, builder);
    cel::Activation act(&root);
    // `type` names CEL's type built-in, so the whole event is also bound as `event`.
    act.Bind("event", &root);
    return cel::EvaluateBool(*program_, act, &ctx);
  }

 private:
  std::shared_ptr<const cel::Program> program_;
};

}  // namespace

Result<std::shared_ptr<const EventFilter>> CompileFilter(std::string_view source) {
  auto program = cel::Compile(source);
  if (!program.ok()) {
    return Status(program.status().code(), "subscription filter: " + program.status().message());
  }
  return std::shared_ptr<const EventFilter>(std::make_shared<CelFilter>(std::move(*program)));
}
#else
Result<std::shared_ptr<const EventFilter>> CompileFilter(std::string_view source) {
  return Unsupported("subscription filter \"" + std::string(source) +
                     "\": this build has no CEL evaluator (src/cel); remove \"filter\"");
}
#endif

}  // namespace ec::delivery
