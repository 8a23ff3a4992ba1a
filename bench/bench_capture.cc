// What recording costs the capture proxy per exchange, apart from the socket work that
// bench/bench_proxy.sh measures: following the bytes (ExchangeTracker) and turning the exchange
// into its JSON line (ToExchangeJson), for the exchange bench_proxy.sh sends (wrk POST 1 KiB,
// nginx answering 1 KiB of JSON).

#include <benchmark/benchmark.h>

#include <string>

#include "capture/captured_exchange.h"
#include "capture/exchange_tracker.h"

namespace ec::capture {
namespace {

std::string Request() {
  std::string body(1024, 'y');
  return "POST / HTTP/1.1\r\nHost: 127.0.0.1:40000\r\nContent-Length: 1024\r\n"
         "Content-Type: text/plain\r\n\r\n" + body;
}

std::string Response() {
  std::string body = "{\"pad\":\"" + std::string(1024, 'x') + "\"}";
  return "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 14:00:00 GMT\r\n"
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: keep-alive\r\n\r\n" + body;
}

void BM_TrackExchange(benchmark::State& state) {
  std::string req = Request(), resp = Response();
  size_t n = 0;
  ExchangeTracker t(TrackerOptions{1 << 20, 64 << 10, 64, "127.0.0.1"},
                    [&n](CapturedExchange&& x) { n += x.response_body.bytes.size(); });
  for (auto _ : state) {
    t.OnClientBytes(req);
    t.OnUpstreamBytes(resp);
  }
  benchmark::DoNotOptimize(n);
}
BENCHMARK(BM_TrackExchange);

void BM_TrackAndEncodeExchange(benchmark::State& state) {
  std::string req = Request(), resp = Response();
  size_t n = 0;
  ExchangeTracker t(TrackerOptions{1 << 20, 64 << 10, 64, "127.0.0.1"},
                    [&n](CapturedExchange&& x) { n += ToExchangeJson(x).size(); });
  for (auto _ : state) {
    t.OnClientBytes(req);
    t.OnUpstreamBytes(resp);
  }
  benchmark::DoNotOptimize(n);
}
BENCHMARK(BM_TrackAndEncodeExchange);

}  // namespace
}  // namespace ec::capture

BENCHMARK_MAIN();
