#pragma once
// POST /v1/ingest/firehose: the Amazon Data Firehose HTTP-endpoint delivery protocol (request
// {requestId, timestamp, records[].data base64}; answer {requestId, timestamp[, errorMessage]}).
// The X-Amz-Firehose-Access-Key header must equal firehose.access_key (401 when absent, 403
// when wrong or not configured). Each record is an API Gateway access-log record (or NDJSON of
// them), or a gzip'd CloudWatch Logs subscription payload whose logEvents carry them
// (CONTROL_MESSAGEs are skipped). Decoded exchanges go to the raw topic through LocalIngest;
// records that cannot be decoded are dead-lettered (a retry would not help), so the answer is
// 200 unless the request itself is malformed (400) or the append failed (500: Firehose retries).
//
// Exchange ids: API Gateway's own $context.requestId when the record has it; otherwise the
// CloudWatch logEvent id, otherwise "<Firehose requestId>-<record index>[-<line>]". All are
// stable across Firehose's retries of a delivery, so a retried delivery repeats the same ids.

#include <cstdint>
#include <functional>
#include <string>

#include "server/http/http_types.h"
#include "server/source_config.h"

namespace ec::server {

class LocalIngest;
class Counter;
class MetricsRegistry;

class FirehoseIngest {
 public:
  // `lag` returns the pipeline's lag in records; beyond `max_lag_records` deliveries get 503.
  FirehoseIngest(FirehoseConfig config, LocalIngest* ingest, MetricsRegistry* metrics,
                 std::function<int64_t()> lag, int64_t max_lag_records);

  HttpResponse Handle(HttpRequest& req);

 private:
  HttpResponse Answer(int status, const std::string& request_id, const std::string& error);

  FirehoseConfig config_;
  LocalIngest* ingest_;
  MetricsRegistry* metrics_;
  std::function<int64_t()> lag_;
  int64_t max_lag_records_;
  Counter* deliveries_;
};

}  // namespace ec::server
