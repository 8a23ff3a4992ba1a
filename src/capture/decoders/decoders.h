#pragma once
// The gateway decoders that live in src/capture, as rows for the pipeline's decoder table
// (src/pipeline/exchange.cc keeps that table private; each row here has its exact shape:
// name, description, example, decode function, detection predicate).

#include <span>

#include "pipeline/exchange.h"

namespace ec::capture::decoders {

struct GatewayDecoder {
  pipeline::DecoderInfo info;
  Status (*decode)(const json::Value& raw, const pipeline::DecodeOptions& options, Arena* arena,
                   std::vector<json::Value>* out);
  bool (*looks_like)(const json::Value& raw);
};

// envoy, aws-apigw, nginx, haproxy: in detection order.
std::span<const GatewayDecoder> GatewayDecoders();
// The row named `name`, or nullptr.
const GatewayDecoder* FindGatewayDecoder(std::string_view name);

}  // namespace ec::capture::decoders
