// Dates: $now, $millis, $fromMillis, $toMillis (ISO 8601 and XPath picture strings).

#include <chrono>

#include "jsonata/functions.h"

namespace ec::jsonata::internal {

namespace {
int64_t NowMs(Evaluator& ev) {
  if (ev.now_ms == 0) {
    ev.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  }
  return ev.now_ms;
}
}  // namespace

EC_JSONATA_FN(FnMillis) { return Val::Num(static_cast<double>(NowMs(ev))); }

EC_JSONATA_FN(FnNow) {
  Val a[3] = {Val::Num(static_cast<double>(NowMs(ev))), Arg(args, 0), Arg(args, 1)};
  return FnFromMillis(ev, std::span<Val>(a, 3), input, env);
}

EC_JSONATA_FN(FnFromMillis) { return ev.Fail("D3137", "$fromMillis: not implemented yet"); }
EC_JSONATA_FN(FnToMillis) { return ev.Fail("D3137", "$toMillis: not implemented yet"); }

}  // namespace ec::jsonata::internal
