#pragma once
// A CaptureSink that POSTs NDJSON batches to an Eventception HTTP ingest (`--ingest URL`, e.g.
// http://127.0.0.1:8080/v1/exchanges?format=canonical). One keep-alive connection, reused.

#include <memory>
#include <string>

#include "capture/capture_shipper.h"

namespace ec::capture {

struct IngestSinkOptions {
  std::string url;
  int connect_timeout_ms = 2000;
  int request_timeout_ms = 10000;
};

// 2xx = shipped. Connection failures, timeouts, 429 and 5xx are kUnavailable (retried by the
// shipper); other statuses are kInvalidArgument (the batch is dropped and counted).
std::unique_ptr<CaptureSink> MakeIngestSink(IngestSinkOptions options);

}  // namespace ec::capture
