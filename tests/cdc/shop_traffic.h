#pragma once
// Deterministic shop traffic for the exactly-once tests and bench: canonical exchanges for
// examples/shop/openapi.yaml (customers, orders: creates, reads, updates, merge patches,
// deletes, failures, unannotated paths) plus exchanges that produce dead letters (an order
// created without an id, a read older than the key's last change). Same seed, same exchanges,
// byte for byte; times start at a fixed instant.

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pipeline/processor.h"

namespace ec::testing {

class ShopTraffic {
 public:
  explicit ShopTraffic(uint64_t seed) : rng_(seed) {}

  // The next exchange as one NDJSON line (no newline).
  std::string Next() {
    ++n_;
    clock_ms_ += 1 + static_cast<int64_t>(Uniform() * 7);
    double r = Uniform();
    std::string oid = ExistingOrder();
    if (r < 0.05 || customers_.empty()) return NewCustomer();
    if (r < 0.33 || oid.empty()) return NewOrder();
    std::string& order = orders_[oid];
    if (r < 0.55) return Exchange("GET", "/orders/" + oid, 200, "null", order);
    if (r < 0.65) {
      order = OrderJson(oid, "shipped", carriers_[Pick(4)]);
      return Exchange("PUT", "/orders/" + oid, 200, order, order);
    }
    if (r < 0.73) {
      order = OrderJson(oid, "paid", "");
      return Exchange("PATCH", "/orders/" + oid, 204, R"({"status":"paid","shipping":null})", "null");
    }
    if (r < 0.78) {
      orders_.erase(oid);
      return Exchange("DELETE", "/orders/" + oid, 204, "null", "null");
    }
    if (r < 0.82) return Exchange("GET", "/orders/o-404404", 404, "null", R"({"error":"not found"})");
    if (r < 0.86) return Exchange("POST", "/orders", 500, R"({"customer":{"id":"c-1"},"items":[]})", R"({"error":"database unavailable"})");
    if (r < 0.90) return Exchange("GET", "/orders", 200, "null", "[]", R"({"limit":"3"})");
    if (r < 0.93) return Exchange("GET", "/health", 200, "null", R"({"ok":true})");
    if (r < 0.96) {
      // Created, but the response has no id: the event key and the resource key fail.
      return Exchange("POST", "/orders", 201, R"({"customer":{"id":"c-1"},"items":[{"sku":"A1","price":1.5,"qty":2}],"currency":"EUR"})",
                      R"({"status":"placed"})");
    }
    // A read an hour older than the key's last change: out of order for the changelog.
    int64_t saved = clock_ms_;
    clock_ms_ -= 3600 * 1000;
    std::string x = Exchange("GET", "/orders/" + oid, 200, "null", R"({"id":")" + oid + R"(","status":"stale"})");
    clock_ms_ = saved;
    return x;
  }

 private:
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  size_t Pick(size_t n) { return static_cast<size_t>(Uniform() * static_cast<double>(n)) % n; }

  std::string ExistingOrder() {
    if (orders_.empty()) return "";
    auto it = orders_.begin();
    std::advance(it, static_cast<long>(Pick(std::min<size_t>(orders_.size(), 64))));
    return it->first;
  }

  std::string OrderJson(const std::string& oid, const std::string& status, const std::string& carrier) {
    std::string s = R"({"id":")" + oid + R"(","customer":{"id":"c-)" + std::to_string(1 + oid.size() % 7) +
                    R"("},"items":[{"sku":"B2","price":3.99,"qty":2}],"currency":"EUR","status":")" + status + "\"";
    if (!carrier.empty()) s += R"(,"shipping":{"carrier":")" + carrier + R"(","tracking":"T)" + std::to_string(n_) + "\"}";
    return s + "}";
  }

  std::string NewCustomer() {
    std::string cid = "c-" + std::to_string(next_customer_++);
    customers_.push_back(cid);
    std::string tier = tiers_[Pick(3)];
    std::string req = R"({"email":")" + cid + R"(@example.com","tier":")" + tier + R"(","password":"hunter2"})";
    std::string resp = R"({"id":")" + cid + R"(","email":")" + cid + R"(@example.com","tier":")" + tier + R"("})";
    return Exchange("POST", "/customers", 201, req, resp);
  }

  std::string NewOrder() {
    std::string customer = customers_[Pick(customers_.size())];
    static const char* kSkus[][2] = {{"A1", "12.5"}, {"B2", "3.99"}, {"C3", "149"}, {"E5", "620"}};
    std::string items = "[";
    size_t lines = 1 + Pick(3);
    for (size_t i = 0; i < lines; ++i) {
      const auto& sku = kSkus[Pick(4)];
      if (i) items += ",";
      items += R"({"sku":")" + std::string(sku[0]) + R"(","price":)" + sku[1] + R"(,"qty":)" + std::to_string(1 + Pick(4)) + "}";
    }
    items += "]";
    std::string req = R"({"customer":{"id":")" + customer + R"("},"items":)" + items + R"(,"currency":"EUR"})";
    if (Uniform() < 0.05) return Exchange("POST", "/orders", 422, req, R"({"error":"out of stock"})");
    std::string oid = "o-" + std::to_string(next_order_++);
    std::string order = R"({"id":")" + oid + R"(","customer":{"id":")" + customer + R"("},"items":)" + items +
                        R"(,"currency":"EUR","status":"placed"})";
    orders_[oid] = order;
    return Exchange("POST", "/orders", 201, req, order);
  }

  std::string Exchange(const std::string& method, const std::string& path, int status, const std::string& req_body,
                       const std::string& resp_body, const std::string& query = "{}") {
    std::string id = "x-" + std::to_string(n_);
    return R"({"id":")" + id + R"(","time":")" + pipeline::FormatRfc3339Ms(clock_ms_) + R"(","latency_ms":)" +
           std::to_string(2 + Pick(70)) + R"(,"request":{"method":")" + method + R"(","path":"/api)" + path +
           R"(","query":)" + query + R"(,"headers":{"content-type":"application/json","authorization":"Bearer t-)" +
           std::to_string(Pick(9)) + R"("},"body":)" + req_body + R"(},"response":{"status":)" + std::to_string(status) +
           R"(,"headers":{"content-type":"application/json"},"body":)" + resp_body +
           R"(},"client":{"ip":"10.0.0.)" + std::to_string(1 + Pick(250)) + R"("}})";
  }

  std::mt19937_64 rng_;
  int64_t clock_ms_ = 1795773600000;  // 2026-11-27T10:00:00Z
  uint64_t n_ = 0;
  int next_order_ = 1000;
  int next_customer_ = 1;
  std::vector<std::string> customers_;
  std::map<std::string, std::string> orders_;
  const std::string tiers_[3] = {"Gold", "Silver", "Bronze"};
  const std::string carriers_[4] = {"dhl", "ups", "fedex", "postnl"};
};

}  // namespace ec::testing
