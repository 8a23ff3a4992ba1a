// CEL filter evaluation: ours (Google Benchmark) against the JS engines on the same 6
// expressions and record, in one run. The JS side is bench/cel_peers.mjs (node, packages from
// tests/peers/node_modules). Prints per expression our ns, theirs, the ratios and geomeans.
//   build-*/bench_cel [--benchmark_min_time=0.5]    (set EC_CEL_BENCH_NO_PEERS=1 to skip node)

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cel/cel.h"
#include "json/document.h"

namespace {

struct Expr {
  const char* name;
  const char* src;
};
// The filter expressions of ../shared/anchors/js/bench_cel.mjs (its int_arith_probe is a
// typing probe, not a filter, and is left out there too for the JS engines' ratios).
constexpr Expr kExprs[] = {
    {"method_status", "request.method == 'POST' && response.status == 201"},
    {"status_range_prefix", "response.status >= 200 && response.status < 300 && request.path.startsWith('/orders')"},
    {"exists_price", "request.body.items.exists(i, i.price > 100.0)"},
    {"size_and_tier", "request.body.items.size() > 3 && 'gold' == request.body.customer.tier"},
    {"has_and_regex", "has(response.body.id) && response.body.id.matches('^o-[0-9]+$')"},
    {"header_contains", "request.headers['content-type'].contains('json')"},
};

const ec::json::Document& Record() {
  static std::unique_ptr<ec::json::Document> doc = [] {
    std::ifstream f(std::string(EC_SHARED_DIR) + "/anchors/gen/record.json");
    std::stringstream ss;
    ss << f.rdbuf();
    auto d = ec::json::Parse(ss.str());
    if (!d.ok()) {
      std::fprintf(stderr, "record.json: %s\n", d.status().ToString().c_str());
      std::exit(1);
    }
    return std::move(d).value();
  }();
  return *doc;
}

void BM_Cel(benchmark::State& state, const char* src) {
  auto program = ec::cel::Compile(src);
  if (!program.ok()) {
    state.SkipWithError(program.status().ToString().c_str());
    return;
  }
  ec::cel::Activation act(&Record().root());
  ec::cel::EvalContext ctx;
  for (auto _ : state) {
    ec::cel::Value v = ec::cel::Evaluate(**program, act, &ctx);
    if (v.kind() != ec::cel::Kind::kBool || !v.bool_value()) {
      state.SkipWithError("expression did not evaluate to true");
      return;
    }
    benchmark::DoNotOptimize(v);
  }
}

void BM_CelCompile(benchmark::State& state, const char* src) {
  for (auto _ : state) {
    auto program = ec::cel::Compile(src);
    benchmark::DoNotOptimize(program);
  }
}

// Keeps CPU ns/iteration of each evaluation benchmark for the comparison table (CPU time on
// both sides, so load from other processes on a shared machine does not skew the ratios).
class Capture : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      double t = r.GetAdjustedCPUTime();
      double to_ns = r.time_unit == benchmark::kNanosecond ? 1 : r.time_unit == benchmark::kMicrosecond ? 1e3 : r.time_unit == benchmark::kMillisecond ? 1e6 : 1e9;
      ns[r.benchmark_name()] = t * to_ns;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  for (const Expr& e : kExprs) {
    benchmark::RegisterBenchmark((std::string("eval/") + e.name).c_str(), BM_Cel, e.src)->Unit(benchmark::kNanosecond);
  }
  for (const Expr& e : kExprs) {
    benchmark::RegisterBenchmark((std::string("compile/") + e.name).c_str(), BM_CelCompile, e.src)->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  Capture capture;
  benchmark::RunSpecifiedBenchmarks(&capture);
  if (std::getenv("EC_CEL_BENCH_NO_PEERS") != nullptr) return 0;

  std::string cmd = std::string("node ") + EC_SOURCE_DIR + "/bench/cel_peers.mjs " + EC_SHARED_DIR;
  std::fprintf(stdout, "\nrunning the JS engines: %s\n", cmd.c_str());
  std::fflush(stdout);
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  if (p != nullptr) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    pclose(p);
  }
  auto doc = ec::json::Parse(out);
  if (!doc.ok() || !(*doc)->root().is_object()) {
    std::fprintf(stderr, "cel_peers.mjs failed (is node installed and tests/peers/node_modules present?):\n%s\n", out.c_str());
    return 1;
  }
  const ec::json::Value& root = (*doc)->root();
  const ec::json::Value* ns = root.Find("ns");
  const char* kMb = "@marcbachmann/cel-js";
  const char* kBuf = "@bufbuild/cel";
  std::printf("\nnode %s, %s %s, %s %s\n", std::string(root.Find("node")->string()).c_str(), kMb,
              std::string(root.Find("versions")->Find(kMb)->string()).c_str(), kBuf,
              std::string(root.Find("versions")->Find(kBuf)->string()).c_str());
  std::printf("CPU time per evaluation (median of batches)\n");
  std::printf("%-22s %10s %12s %9s %12s %9s\n", "expression", "ours ns", "cel-js ns", "x faster", "bufbuild ns", "x faster");
  double log_mb = 0, log_buf = 0;
  int count = 0;
  for (const Expr& e : kExprs) {
    double ours = capture.ns["eval/" + std::string(e.name)];
    const ec::json::Value* m = ns->Find(kMb)->Find(e.name);
    const ec::json::Value* b = ns->Find(kBuf)->Find(e.name);
    if (ours <= 0 || m == nullptr || b == nullptr) continue;
    double rm = m->number() / ours, rb = b->number() / ours;
    log_mb += std::log(rm);
    log_buf += std::log(rb);
    ++count;
    std::printf("%-22s %10.1f %12.1f %9.1f %12.1f %9.1f\n", e.name, ours, m->number(), rm, b->number(), rb);
  }
  if (count > 0) {
    std::printf("geometric mean speed-up: %.1fx vs %s (target >= 5x), %.1fx vs %s (target >= 50x)\n",
                std::exp(log_mb / count), kMb, std::exp(log_buf / count), kBuf);
    std::printf("method_status: %.1f ns (target < 25 ns)\n", capture.ns["eval/method_status"]);
  }
  return 0;
}
