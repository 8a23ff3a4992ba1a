// JSONata: ours vs jsonata-js 2.2.2 on the 9 anchor expressions (anchors/js/bench_jsonata.mjs)
// over anchors/gen/record.json, in one run. Google Benchmark measures ours (eval and compile);
// bench/jsonata_peer.mjs measures jsonata-js; the table at the end prints both and the ratios.
// Ours is CPU time per call; the peer's is the smaller of its wall and process CPU time.

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "json/document.h"
#include "json/writer.h"
#include "jsonata/jsonata.h"

namespace {

const std::vector<std::pair<std::string, std::string>> kExprs = {
    {"path_only", "response.status"},
    {"projection", R"({"event": "order.created", "order_id": request.body.order_id, "customer": request.body.customer.id, "tier": request.body.customer.tier, "status": response.status, "at": time})"},
    {"sum_items", "$sum(request.body.items.(price * qty))"},
    {"filter_items", "request.body.items[price > 10].sku"},
    {"string_funcs", R"($uppercase(request.method) & " " & $substring(request.path, 0, 7) & " " & $join(request.body.items.sku, ","))"},
    {"ternary_method", R"(request.method = "POST" ? "write" : (request.method = "GET" ? "read" : "other"))"},
    {"map_lambda", R"($map(request.body.items, function($i) { {"sku": $lowercase($i.sku), "line_total": $i.price * $i.qty} }))"},
    {"group_by", "request.body.items{sku: $sum(qty)}"},
    {"event_transform", R"({
    "type": "order." & response.body.status,
    "order_id": response.body.id,
    "customer": {"id": request.body.customer.id, "tier": $uppercase(request.body.customer.tier)},
    "total": $round($sum(request.body.items.(price * qty)), 2),
    "expensive_skus": request.body.items[price > 20].sku,
    "item_count": $count(request.body.items),
    "consumer": client.consumer,
    "latency_ms": latency_ms
  })"},
};

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::filesystem::path RecordPath() { return std::filesystem::path(EC_SHARED_DIR) / "anchors" / "gen" / "record.json"; }

const ec::json::Document& Record() {
  static auto doc = ec::json::Parse(ReadFile(RecordPath()));
  return **doc;
}

void BM_Eval(benchmark::State& state, std::string src) {
  auto expr = ec::jsonata::Compile(src);
  if (!expr.ok()) {
    state.SkipWithError(expr.status().message().c_str());
    return;
  }
  const auto& rec = Record();
  for (auto _ : state) {
    ec::Arena arena(2048);
    auto r = (*expr)->Evaluate(ec::jsonata::Defined(rec.root()), &arena);
    benchmark::DoNotOptimize(r);
  }
}

void BM_Compile(benchmark::State& state, std::string src) {
  for (auto _ : state) {
    auto expr = ec::jsonata::Compile(src);
    benchmark::DoNotOptimize(expr);
  }
}

// Keeps each run's time per iteration (ns) by benchmark name.
class CaptureReporter : public benchmark::ConsoleReporter {
 public:
  std::map<std::string, double> ns;
  void ReportRuns(const std::vector<Run>& runs) override {
    // CPU time: robust to other processes sharing the machine (single-threaded, so it equals
    // wall time on a quiet machine).
    for (const Run& r : runs) ns[r.benchmark_name()] = r.GetAdjustedCPUTime();
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  // EC_BENCH_ITERS=N: a fixed iteration count (instruction counting under callgrind).
  const char* iters_env = std::getenv("EC_BENCH_ITERS");
  const int64_t iters = iters_env ? std::atoll(iters_env) : 0;
  for (const auto& [name, src] : kExprs) {
    auto* e = benchmark::RegisterBenchmark(("eval/" + name).c_str(), BM_Eval, src);
    auto* c = benchmark::RegisterBenchmark(("compile/" + name).c_str(), BM_Compile, src);
    if (iters > 0) {
      e->Iterations(iters);
      c->Iterations(iters);
    }
  }
  benchmark::Initialize(&argc, argv);
  CaptureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  // EC_BENCH_NO_PEER=1: ours only (profiling runs).
  if (const char* np = std::getenv("EC_BENCH_NO_PEER"); np && *np == '1') return 0;

  // Our results must equal the reference's before timings are compared.
  std::string exprs_json = "{";
  for (size_t i = 0; i < kExprs.size(); ++i) {
    if (i) exprs_json += ",";
    ec::json::AppendQuoted(kExprs[i].first, &exprs_json);
    exprs_json += ":";
    ec::json::AppendQuoted(kExprs[i].second, &exprs_json);
  }
  exprs_json += "}";
  auto tmp = std::filesystem::temp_directory_path() / "bench_jsonata_exprs.json";
  std::ofstream(tmp) << exprs_json;
  std::string cmd = "node " + (std::filesystem::path(EC_SOURCE_DIR) / "bench" / "jsonata_peer.mjs").string() + " " +
                    tmp.string() + " " + RecordPath().string() + " " +
                    (std::filesystem::path(EC_SOURCE_DIR) / "tests" / "peers" / "node_modules").string();
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[65536];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (!p || pclose(p) != 0 || out.empty()) {
    std::cerr << "jsonata-js peer did not run (node and tests/peers/node_modules needed); ours only.\n";
    return 0;
  }
  auto peer = ec::json::Parse(out);
  if (!peer.ok()) {
    std::cerr << "cannot parse peer output\n";
    return 1;
  }
  std::printf("\n%-16s %12s %12s %8s | %12s %12s %8s | same result\n", "expression", "ours eval", "js eval", "ratio",
              "ours compile", "js compile", "ratio");
  double log_eval = 0, log_compile = 0;
  int count = 0;
  for (const auto& [name, src] : kExprs) {
    const ec::json::Value* pe = (*peer)->root().Find(name);
    if (!pe) continue;
    double oe = reporter.ns["eval/" + name], oc = reporter.ns["compile/" + name];
    double te = pe->Find("eval_ns")->number(), tc = pe->Find("compile_ns")->number();
    auto expr = ec::jsonata::Compile(src);
    ec::Arena arena;
    auto r = (*expr)->Evaluate(ec::jsonata::Defined(Record().root()), &arena);
    const ec::json::Value* pr = pe->Find("result");
    bool same = r.ok() && r->defined && pr && ec::json::Equal(r->value, *pr);
    std::printf("%-16s %10.0f ns %10.0f ns %7.1fx | %10.0f ns %10.0f ns %7.1fx | %s\n", name.c_str(), oe, te, te / oe, oc,
                tc, tc / oc, same ? "yes" : "NO");
    log_eval += std::log(te / oe);
    log_compile += std::log(tc / oc);
    count++;
  }
  if (count) {
    std::printf("geometric mean speed-up: eval %.1fx, compile %.1fx (over %d expressions)\n", std::exp(log_eval / count),
                std::exp(log_compile / count), count);
  }
  return 0;
}
