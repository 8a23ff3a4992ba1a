#pragma once
// The `aws-apigw` decoder: Amazon API Gateway access logs (REST and HTTP APIs, JSON format
// built from $context variables) and Kinesis Data Firehose HTTP-endpoint deliveries of them,
// including CloudWatch Logs subscription payloads (gzip, base64) that Firehose relays.
// docs/gateways/aws-apigw.md gives the access-log format to configure.
//
// An access-log record cannot carry bodies or header sets: API Gateway has no $context
// variable for either. Fills: id (requestId), time (requestTimeEpoch or requestTime),
// latency_ms (responseLatency, else integrationLatency), request{method, path, query: {},
// headers: host/user-agent when logged}, response{status}, client{ip, consumer}, gateway{kind:
// "aws-apigw", route (routeKey / resourcePath), service (apiId/stage)}.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/arena.h"
#include "base/status.h"
#include "json/value.h"
#include "pipeline/exchange.h"

namespace ec::pipeline::gateways {

bool LooksLikeAwsApiGateway(const json::Value& raw);
// One access-log record, or one Firehose delivery (`records[].data`, each an access-log record,
// NDJSON of them, or a CloudWatch Logs DATA_MESSAGE; CONTROL_MESSAGEs give nothing).
Status DecodeAwsApiGateway(const json::Value& raw, const pipeline::DecodeOptions& options,
                           Arena* arena, std::vector<json::Value>* out);

// The body Firehose expects in answer to a delivery: {"requestId", "timestamp"} plus
// "errorMessage" when `error` is not empty (Firehose then retries the delivery).
std::string FirehoseResponseBody(std::string_view request_id, int64_t timestamp_ms,
                                 std::string_view error);

// Inflates gzip (or zlib) with an output limit: kLimitExceeded beyond `max_bytes` (a zip bomb
// stops there), kInvalidArgument when corrupt or truncated. The one gunzip of the tree above
// the log (server/http/gzip.h calls it; log/compression.h has its own, being below pipeline).
Result<std::string> Gunzip(std::string_view gz, size_t max_bytes);

}  // namespace ec::pipeline::gateways
