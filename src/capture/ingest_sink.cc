#include "capture/ingest_sink.h"

#include <curl/curl.h>

#include <mutex>

namespace ec::capture {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

class IngestSink : public CaptureSink {
 public:
  explicit IngestSink(IngestSinkOptions options) : options_(std::move(options)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl_ = curl_easy_init();
    headers_ = curl_slist_append(nullptr, "Content-Type: application/x-ndjson");
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
  }
  ~IngestSink() override {
    curl_slist_free_all(headers_);
    if (curl_) curl_easy_cleanup(curl_);
  }

  Status Ship(std::span<const std::string> lines) override {
    if (!curl_) return Internal("curl_easy_init failed");
    body_.clear();
    for (const std::string& l : lines) body_.append(l).push_back('\n');
    curl_easy_setopt(curl_, CURLOPT_URL, options_.url.c_str());
    curl_easy_setopt(curl_, CURLOPT_POST, 1L);
    curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, headers_);
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDS, body_.data());
    curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body_.size()));
    curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT_MS, long(options_.connect_timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_TIMEOUT_MS, long(options_.request_timeout_ms));
    curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, Discard);
    CURLcode rc = curl_easy_perform(curl_);
    if (rc != CURLE_OK) {
      return Unavailable("POST " + options_.url + ": " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return Status::Ok();
    std::string msg = "POST " + options_.url + " answered " + std::to_string(status);
    if (status == 429 || status >= 500) return Unavailable(msg);
    return InvalidArgument(msg);
  }

 private:
  IngestSinkOptions options_;
  CURL* curl_ = nullptr;
  curl_slist* headers_ = nullptr;
  std::string body_;
};

}  // namespace

std::unique_ptr<CaptureSink> MakeIngestSink(IngestSinkOptions options) {
  return std::make_unique<IngestSink>(std::move(options));
}

}  // namespace ec::capture
