#include "delivery/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <queue>
#include <random>
#include <thread>
#include <unordered_map>

#include <pthread.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "delivery/cloud_event.h"
#include "delivery/event_filter.h"
#include "delivery/http_client.h"
#include "delivery/signature.h"
#include "json/document.h"
#include "json/writer.h"

namespace ec::delivery {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------------------------
// Writes a worker's positions off the worker thread: an fsync under a loaded disk takes
// milliseconds, which the worker would otherwise add to the latency of every waiting event.
// Only the newest positions handed over are written (older ones are subsumed).
class PositionSaver {
 public:
  PositionSaver(SubscriptionStore* store, std::string id) : store_(store), id_(std::move(id)) {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ec-webhook-pos");  // for top/perf
      Run();
    });
  }
  ~PositionSaver() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Hands over `pos`; with `wait`, returns once it (or something newer) is durable or failed.
  void Commit(Positions pos, bool wait) {
    std::unique_lock lock(mu_);
    pending_ = std::move(pos);
    uint64_t seq = ++queued_;
    cv_.notify_all();
    if (wait) cv_.wait(lock, [&] { return done_ >= seq || stop_; });
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait_for(lock, retry_ ? milliseconds(1000) : milliseconds(60000),
                   [&] { return stop_ || pending_.has_value(); });
      if (!pending_) {
        if (stop_) return;
        continue;
      }
      Positions pos = std::move(*pending_);
      pending_.reset();
      uint64_t seq = queued_;
      lock.unlock();
      Status st = store_->SavePositions(id_, pos);
      lock.lock();
      retry_ = !st.ok();
      if (!st.ok()) {
        std::fprintf(stderr, "delivery: subscription %s: %s\n", id_.c_str(),
                     st.ToString().c_str());
        if (!pending_) pending_ = std::move(pos);  // tried again in a second
      }
      done_ = seq;
      cv_.notify_all();
      if (stop_ && !pending_) return;
      if (stop_ && !st.ok()) return;
    }
  }

  SubscriptionStore* store_;
  std::string id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Positions> pending_;
  uint64_t queued_ = 0, done_ = 0;
  bool retry_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// Wakes a worker's event loop from another thread (an append, a control request). Shared with
// the log's notification callbacks, which may fire after the worker has gone: they find no loop.
class LoopWaker {
 public:
  explicit LoopWaker(boost::asio::io_context* ioc) : ioc_(ioc) {}
  // The thread that runs the loop: a wake-up from it (the log firing a notification inline,
  // data being there already) only sets a flag the loop checks, without a post and the
  // reactor interrupt (a syscall) that goes with it.
  void SetOwner(std::thread::id owner) { owner_.store(owner, std::memory_order_relaxed); }
  bool TakeInlineWake() { return std::exchange(inline_wake_, false); }
  void Wake() {
    if (std::this_thread::get_id() == owner_.load(std::memory_order_relaxed)) {
      inline_wake_ = true;
      return;
    }
    if (pending_.exchange(true)) return;  // one queued wake-up is enough
    std::lock_guard lock(mu_);
    if (ioc_) boost::asio::post(*ioc_, [this] { pending_ = false; });
  }
  void Detach() {
    std::lock_guard lock(mu_);
    ioc_ = nullptr;
  }

 private:
  std::atomic<bool> pending_{false};
  std::mutex mu_;
  boost::asio::io_context* ioc_;
  std::atomic<std::thread::id> owner_{};  // set by the loop's thread when it starts
  bool inline_wake_ = false;  // touched by the owner thread only
};

// ---------------------------------------------------------------------------------------------
// One subscription, on one thread that runs an event loop (an io_context): its HTTP exchanges
// (keep-alive connections, up to max_in_flight at once), their completions, the log's append
// notifications and control requests all arrive there, so an appended event goes from the log
// to the socket without a hand-over between threads and without polling. Everything below
// "worker-thread state" is touched only by the worker thread; the rest is guarded by mu_.
class Dispatcher::Worker {
 public:
  Worker(Dispatcher* d, Subscription sub, std::shared_ptr<const EventFilter> filter,
         Positions positions)
      : d_(d),
        sub_(std::move(sub)),
        filter_(std::move(filter)),
        stored_(std::move(positions)),
        attempts_(d->options_.attempts_kept),
        saver_(d->store_.get(), sub_.id) {
    HttpClientOptions http = d->http_options_;
    http.defer_reads = true;  // started in Wait, after the pass's requests were written
    client_ = std::make_unique<HttpClient>(std::move(http), &ioc_);
    signer_ = std::make_unique<Signer>(*DecodeSecret(sub_.secret));
    url_ = *ParseUrl(sub_.url);
    request_start_ = RequestStart("POST", url_);
    if (sub_.auth.type == "basic") {
      auth_header_ = "Basic " + Base64Encode(sub_.auth.username + ":" + sub_.auth.password);
    } else if (sub_.auth.type == "bearer") {
      auth_header_ = "Bearer " + sub_.auth.token;
    }
    paused_ = sub_.paused || !sub_.disabled_reason.empty();
    // Fix the starting positions now, not when the worker thread first runs: a new subscription
    // starting at "latest" must receive every event appended after it was created, even one
    // appended before its thread got the CPU.
    ScanTopics();
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ec-webhook");  // for top/perf and the benchmark
      waker_->SetOwner(std::this_thread::get_id());
      Run();
    });
  }

  ~Worker() { Stop(); }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    waker_->Wake();
    if (thread_.joinable()) thread_.join();
    waker_->Detach();
  }

  void SetPaused(bool paused) {
    {
      std::lock_guard lock(mu_);
      paused_ = paused;
      if (!paused) {
        sub_.disabled_reason.clear();
        failing_since_ms_ = 0;
      }
      sub_.paused = paused;
    }
    waker_->Wake();
  }

  void RequestReplay(std::optional<int64_t> offset, std::optional<int64_t> time_ms,
                     std::string topic) {
    {
      std::lock_guard lock(mu_);
      replay_ = Replay{offset, time_ms, std::move(topic)};
    }
    waker_->Wake();
  }

  const AttemptLog& attempts() const { return attempts_; }

  SubscriptionStatus GetStatus() {
    std::lock_guard lock(mu_);
    SubscriptionStatus s = counters_;
    s.positions = positions_snapshot_;
    for (auto& p : s.positions) {
      auto end = d_->log_->EndOffset(p.topic, p.partition);
      p.end = end.ok() ? *end : p.committed;
    }
    s.in_flight = in_flight_;
    s.buffered = buffered_snapshot_;
    return s;
  }

 private:
  struct Pending {
    SourceRecord record;
    CloudEvent event;
    std::string key;     // ordering key; empty: unordered (null key)
    bool ordered = false;
    bool key_head = false;  // the oldest undelivered event of its key: it may be sent
    bool done = false;
    bool in_flight = false;
    int attempts = 0;
    int64_t next_at_ms = 0;
    std::vector<AttemptRecord> history;
  };
  // The window offsets of one key, oldest first. A vector with a head index: most keys hold one
  // or two events, and a std::deque allocates a 512-byte block for each.
  struct KeyQueue {
    std::vector<int64_t> offsets;
    size_t head = 0;
    bool empty() const { return head == offsets.size(); }
    int64_t front() const { return offsets[head]; }
    void push_back(int64_t o) { offsets.push_back(o); }
    void pop_front() {
      if (++head == offsets.size()) {
        offsets.clear();
        head = 0;
      }
    }
  };
  struct Stream {
    std::string topic;
    int32_t partition = 0;
    int64_t next_read = 0;
    std::map<int64_t, Pending> window;                   // by offset
    std::unordered_map<std::string, KeyQueue> keys;      // per key: offsets in order
    // What Dispatch may send, so that it never walks the window: offsets that were sendable
    // when added (oldest first; entries that went stale are dropped when met), and events
    // waiting for a retry by due time.
    std::priority_queue<int64_t, std::vector<int64_t>, std::greater<>> ready;
    std::priority_queue<std::pair<int64_t, int64_t>, std::vector<std::pair<int64_t, int64_t>>,
                        std::greater<>> retry;  // (next_at_ms, offset)
    uint64_t notify_id = 0;      // the log's append notification (0: none)
    // Set when it has fired (the log then forgets it); shared with its callback.
    std::shared_ptr<std::atomic<bool>> notify_fired = std::make_shared<std::atomic<bool>>(false);
    int64_t Committed() const { return window.empty() ? next_read : window.begin()->first; }
  };
  struct Completion {
    uint64_t generation;
    size_t stream;
    int64_t offset;
    int64_t started_ms;
    double latency_ms;
    Result<ClientResponse> response;
  };
  struct Replay {
    std::optional<int64_t> offset, time_ms;
    std::string topic;
  };

  int64_t Now() const { return d_->options_.clock_ms(); }

  void Run() {
    auto last_scan = Clock::now() - d_->options_.topic_scan_interval;
    auto last_commit = Clock::now();
    double tokens = std::max(1.0, sub_.rate_limit);
    auto last_refill = Clock::now();
    std::vector<Completion> done;  // reused: its capacity goes back and forth with completions_
    for (;;) {
      done.clear();
      std::optional<Replay> replay;
      bool paused;
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        done.swap(completions_);
        replay.swap(replay_);
        paused = paused_;
      }
      if (Clock::now() - last_scan >= d_->options_.topic_scan_interval) {
        ScanTopics();
        last_scan = Clock::now();
      }
      if (replay) ApplyReplay(*replay);
      for (Completion& c : done) HandleCompletion(c);
      if (!done.empty()) {
        std::lock_guard lock(mu_);
        paused = paused_;  // a completion may have disabled the endpoint
      }
      // Coalescing (DispatcherOptions::coalesce_max): within that time of the last read of
      // new records, further records wait in the log and are then read together (see Wait).
      // Events already in the window (a key's next event, a retry) are not held.
      if (!paused && !Holding()) {
        if (size_t n = Fill(); n > 0) {
          auto now = Clock::now();
          if (last_fill_ != Clock::time_point{}) {
            // Time per record since the last read that found any: a long quiet spell makes it
            // large at once, a steady stream brings it down over a few reads.
            auto gap = std::chrono::duration_cast<std::chrono::microseconds>(now - last_fill_) /
                       static_cast<int64_t>(n);
            arrival_gap_ = arrival_gap_.count() == 0 ? gap : (arrival_gap_ * 3 + gap) / 4;
          }
          last_fill_ = now;
          last_fill_count_ = n;
        } else {
          hold_busy_ = false;  // records stopped coming: wait for the next append again
        }
      }
      if (sub_.rate_limit > 0) {
        auto now = Clock::now();
        tokens = std::min(std::max(1.0, sub_.rate_limit),
                          tokens + sub_.rate_limit *
                                       std::chrono::duration<double>(now - last_refill).count());
        last_refill = now;
      }
      int64_t next_retry_ms = INT64_MAX;
      if (!paused) next_retry_ms = Dispatch(&tokens);
      unsaved_ |= Advance();
      if (unsaved_ && Clock::now() - last_commit >= d_->options_.commit_interval) {
        SavePositions();
        unsaved_ = false;
        last_commit = Clock::now();
      }
      if (unsaved_) {
        int64_t save_at = Now() + std::chrono::duration_cast<milliseconds>(
                                      d_->options_.commit_interval -
                                      (Clock::now() - last_commit)).count();
        next_retry_ms = std::min(next_retry_ms, save_at);
      }
      Wait(paused, next_retry_ms);
    }
    // Drain: in-flight requests finish and count; anything else is redelivered after a restart.
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (in_flight_ == 0) break;
      }
      client_->StartDeferredReads();
      ioc_.run_one_for(milliseconds(100));  // each request ends by its timeout at the latest
    }
    std::vector<Completion> last;
    {
      std::lock_guard lock(mu_);
      last.swap(completions_);
    }
    for (Completion& c : last) HandleCompletion(c);
    for (Stream& s : streams_) CancelNotify(s);
    Advance();
    SavePositions(/*wait=*/true);
  }

  // True within coalesce_max of the last read of new records: newer ones wait for the hold
  // timer.
  // Only when a hold is expected to gather several records: after a read that found several,
  // or after a single one when records have been coming at least two per coalesce_max (a
  // steady stream faster than one hold: at 16,000/s the loop turns faster than appends come,
  // so each read finds one, and every append would cost the appending thread a syscall and
  // the worker, the receiver and the response a wake-up each). Slower streams are not held:
  // a hold that gathers one record only adds a timer. A large read means a backlog (after a
  // stall): batching is there already, and holding would only pace the catching up.
  bool Holding() const {
    auto max = d_->options_.coalesce_max;
    if (max.count() <= 0 || last_fill_count_ == 0 || last_fill_count_ >= kBacklogRead) {
      return false;
    }
    if (last_fill_count_ < 2 && !(arrival_gap_.count() > 0 && arrival_gap_ * 2 <= max)) {
      return false;
    }
    return Clock::now() < last_fill_ + max;
  }

  void ArmHoldTimer() {
    if (hold_timer_armed_) return;  // an armed one fires at or before this hold's end
    hold_timer_armed_ = true;
    hold_timer_.expires_at(last_fill_ + d_->options_.coalesce_max);
    hold_timer_.async_wait([this](const boost::system::error_code&) { hold_timer_armed_ = false; });
  }

  // Runs the event loop until something happens: a completion, an append to a stream with room
  // in its window (the log's notification), a control request, the end of a coalescing hold,
  // or the next retry or save time. The timeout (at most 50 ms, 200 ms when paused) also paces
  // the scan for new topics.
  //
  // Coalescing: while holding, records that are waiting (or, when the last hold found some,
  // that are expected) are read and sent when the hold timer fires, so a stream of appends
  // costs one wake-up per batch, neither a wake-up per append nor a syscall in the appending
  // thread. A record that arrives when none was read recently goes at once.
  void Wait(bool paused, int64_t next_retry_ms) {
    int64_t wait_ms = paused ? 200 : 50;
    if (next_retry_ms != INT64_MAX) wait_ms = std::clamp<int64_t>(next_retry_ms - Now(), 0, wait_ms);
    bool holding = !paused && Holding();
    if (holding && hold_busy_) {
      ArmHoldTimer();
    } else if (!paused) {
      for (Stream& s : streams_) {
        if (s.window.size() < d_->options_.max_buffered_per_stream) ArmNotify(s);
      }
      // Records are there already (the notification fired while being armed).
      if (waker_->TakeInlineWake()) {
        if (holding) {
          ArmHoldTimer();
          hold_busy_ = true;
        } else {
          wait_ms = 0;
        }
      }
    }
    // The responses of this pass's requests: read now, after all of them were written, so
    // that the first attempt finds more of them there.
    client_->StartDeferredReads();
    // One handler per pass: handlers that are ready already run without asking the reactor
    // (poll() would end with a non-blocking epoll_wait, a syscall per pass).
    if (wait_ms > 0) {
      ioc_.run_one_for(milliseconds(wait_ms));
    } else {
      ioc_.poll_one();
    }
  }

  // Asks the log to wake the loop once a record at s.next_read exists (inline when it does).
  void ArmNotify(Stream& s) {
    if (s.notify_id != 0 && !s.notify_fired->load(std::memory_order_acquire)) return;  // pending
    s.notify_fired->store(false, std::memory_order_relaxed);
    s.notify_id = d_->log_->NotifyWhenPast(s.topic, s.partition, s.next_read,
                                           [w = waker_, fired = s.notify_fired] {
                                             fired->store(true, std::memory_order_release);
                                             w->Wake();
                                           });
  }

  void CancelNotify(Stream& s) {
    if (s.notify_id != 0) d_->log_->CancelNotify(s.topic, s.partition, s.notify_id);
    s.notify_id = 0;
  }

  void ScanTopics() {
    for (const std::string& topic : d_->log_->Topics()) {
      if (!ReadsTopic(sub_, topic)) continue;
      auto parts = d_->log_->PartitionCount(topic);
      if (!parts.ok()) continue;
      for (int32_t p = 0; p < *parts; ++p) {
        bool known = false;
        for (const Stream& s : streams_) known |= (s.topic == topic && s.partition == p);
        if (known) continue;
        Stream s;
        s.topic = topic;
        s.partition = p;
        auto it = stored_.find({topic, p});
        if (it != stored_.end()) {
          s.next_read = it->second;
        } else if (sub_.start == "earliest" || started_scan_ || !stored_.empty()) {
          // Topics that appear after the subscription started are read from their beginning.
          s.next_read = 0;
        } else {
          auto end = d_->log_->EndOffset(topic, p);
          s.next_read = end.ok() ? *end : 0;
        }
        streams_.push_back(std::move(s));
        dirty_ = true;
      }
    }
    started_scan_ = true;
  }

  void ApplyReplay(const Replay& r) {
    ++generation_;  // results of requests still in flight are ignored from now on
    for (Stream& s : streams_) {
      int64_t to = s.Committed();
      if (r.topic.empty() || s.topic == r.topic) {
        to = r.offset.value_or(0);
        if (r.time_ms) {
          auto o = d_->log_->OffsetForTime(s.topic, s.partition, *r.time_ms);
          if (o.ok()) to = *o;
        }
      }
      CancelNotify(s);  // it may wait for an offset beyond the new position
      s.next_read = to;
      s.window.clear();
      s.keys.clear();
      s.ready = {};
      s.retry = {};
    }
    dirty_ = true;
    SavePositions(/*wait=*/true);
  }

  // Reads more records into the windows (bounded: events wait in the log, not in RAM).
  // Returns how many records were read (filtered and skipped ones included).
  size_t Fill() {
    size_t read = 0;
    for (Stream& s : streams_) {
      size_t room = d_->options_.max_buffered_per_stream - std::min(
          d_->options_.max_buffered_per_stream, s.window.size());
      if (room == 0) continue;
      auto recs = d_->log_->Read(s.topic, s.partition, s.next_read,
                                 std::min(room, d_->options_.read_batch), 4 << 20);
      if (!recs.ok()) continue;
      read += recs->size();
      for (SourceRecord& r : *recs) {
        s.next_read = r.offset + 1;
        auto ev = TakeCloudEvent(&r, sub_.mode == ContentMode::kStructured);
        if (!ev.ok() || !MatchesType(sub_, ev->Attr("type"))) {
          dirty_ = true;  // skipped: the position moves past it
          continue;
        }
        if (filter_) {
          auto keep = filter_->Matches(*ev);
          if (!keep.ok() || !*keep) {
            std::lock_guard lock(mu_);
            counters_.filtered_out++;
            dirty_ = true;
            continue;
          }
        }
        Pending p;
        p.ordered = r.key.has_value();
        if (p.ordered) p.key = *r.key;
        p.event = std::move(*ev);
        p.record = std::move(r);
        int64_t off = p.record.offset;
        if (p.ordered) {
          KeyQueue& q = s.keys[p.key];
          p.key_head = q.empty();
          q.push_back(off);
        }
        if (!p.ordered || p.key_head) s.ready.push(off);
        s.window.emplace(off, std::move(p));
      }
    }
    return read;
  }

  // Starts every ready delivery; returns the earliest pending retry time (INT64_MAX: none).
  int64_t Dispatch(double* tokens) {
    int64_t now = Now();
    int64_t next = INT64_MAX;
    int in_flight;
    {
      std::lock_guard lock(mu_);
      in_flight = in_flight_;
    }
    for (size_t si = 0; si < streams_.size(); ++si) {
      Stream& s = streams_[si];
      while (!s.retry.empty() && s.retry.top().first <= now) {
        s.ready.push(s.retry.top().second);
        s.retry.pop();
      }
      if (!s.retry.empty()) next = std::min(next, s.retry.top().first);
      while (!s.ready.empty()) {
        if (in_flight >= sub_.max_in_flight) return std::min(next, now + 50);
        auto it = s.window.find(s.ready.top());
        if (it == s.window.end()) {
          s.ready.pop();
          continue;
        }
        Pending& p = it->second;
        // Stale entries (sent, finished, or behind an older event of their key) are dropped.
        if (p.done || p.in_flight || (p.ordered && !p.key_head)) {
          s.ready.pop();
          continue;
        }
        if (p.next_at_ms > now) {
          s.ready.pop();
          s.retry.emplace(p.next_at_ms, it->first);
          next = std::min(next, p.next_at_ms);
          continue;
        }
        if (sub_.rate_limit > 0) {
          if (*tokens < 1.0) return std::min(next, now + 5);
          *tokens -= 1.0;
        }
        s.ready.pop();
        Send(si, p);
        ++in_flight;
      }
    }
    return next;
  }

  void Send(size_t si, Pending& p) {
    p.in_flight = true;
    p.attempts++;
    ClientRequest req;
    req.url = url_;
    req.tls_ca_file = sub_.tls_ca_file;
    req.timeout = d_->options_.retry.request_timeout;
    std::string_view id = p.event.Attr("id");
    int64_t started = Now();
    int64_t ts = started / 1000;
    char ts_text[24];
    std::string_view ts_view(ts_text, std::to_chars(ts_text, ts_text + sizeof ts_text, ts).ptr -
                                          ts_text);
    // Binary mode without custom headers (which could replace any of ours): the request is
    // serialized here in one string, in the order and with the bytes the header list below
    // would give, without building that list (a dozen strings per request) and having the
    // client check it. Anything it cannot write identically takes the list.
    bool wired = false;
    if (sub_.mode == ContentMode::kBinary && sub_.headers.empty()) {
      std::string& w = req.wire;
      w.reserve(request_start_.size() + p.event.data.size() + 256);
      w = request_start_;
      wired = AppendBinaryHeaderLines(p.event, &w) && AppendHeaderLine("webhook-id", id, &w) &&
              AppendHeaderLine("webhook-timestamp", ts_view, &w) &&
              AppendHeaderLine("webhook-signature", signer_->Sign(id, ts, p.event.data), &w) &&
              (auth_header_.empty() || AppendHeaderLine("authorization", auth_header_, &w));
      if (wired) {
        AppendRequestEnd(p.event.data, &w);
      } else {
        w.clear();
      }
    }
    if (!wired) {
      ToHttp(p.event, sub_.mode, &req.headers, &req.body);
      req.headers.emplace_back("webhook-id", id);
      req.headers.emplace_back("webhook-timestamp", ts_view);
      req.headers.emplace_back("webhook-signature", signer_->Sign(id, ts, req.body));
      if (!auth_header_.empty()) req.headers.emplace_back("authorization", auth_header_);
      for (const auto& h : sub_.headers) req.headers.push_back(h);
    }
    {
      std::lock_guard lock(mu_);
      in_flight_++;
    }
    uint64_t gen = generation_;
    int64_t off = p.record.offset;
    auto t0 = Clock::now();
    // Runs on this worker's loop (in Wait): queued, and handled in the next pass.
    client_->SendAsync(std::move(req), [this, gen, si, off, started,
                                            t0](Result<ClientResponse> res) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      std::lock_guard lock(mu_);
      completions_.push_back(Completion{gen, si, off, started, ms, std::move(res)});
      in_flight_--;
    });
  }

  void HandleCompletion(Completion& c) {
    if (c.generation != generation_) return;
    Stream& s = streams_[c.stream];
    auto it = s.window.find(c.offset);
    if (it == s.window.end()) return;
    Pending& p = it->second;
    p.in_flight = false;
    AttemptRecord a;
    a.time_ms = c.started_ms;
    a.event_id = std::string(p.event.Attr("id"));
    a.type = std::string(p.event.Attr("type"));
    a.topic = s.topic;
    a.partition = s.partition;
    a.offset = c.offset;
    a.attempt = p.attempts;
    a.latency_ms = c.latency_ms;
    std::optional<milliseconds> retry_after;
    if (c.response.ok()) {
      a.status = c.response->status;
      a.response = c.response->body.substr(0, d_->options_.response_excerpt_bytes);
      std::string_view ra = c.response->Header("retry-after");
      if (!ra.empty()) retry_after = ParseRetryAfter(ra, Now() / 1000);
    } else {
      a.error = c.response.status().message();
    }
    Outcome outcome = Classify(a.status);
    int status = a.status;
    const RetryPolicy& rp = d_->options_.retry;
    int64_t now = Now();
    bool dead = false;
    if (outcome == Outcome::kDelivered) {
      a.result = "delivered";
      p.done = true;
    } else {
      {
        std::lock_guard lock(mu_);
        counters_.failed_attempts++;
        if (failing_since_ms_ == 0) failing_since_ms_ = now;
      }
      if (outcome == Outcome::kRetry && p.attempts < rp.max_attempts) {
        a.result = "retry";
        p.next_at_ms = now + BackoffDelay(rp, p.attempts + 1, d_->options_.random(),
                                          retry_after).count();
        s.retry.emplace(p.next_at_ms, c.offset);
      } else {
        a.result = "dead-lettered";
        dead = true;
      }
    }
    // A delivered event leaves the window now; only failures need their history (dead letter).
    if (outcome != Outcome::kDelivered) p.history.push_back(a);
    attempts_.Add(std::move(a));
    if (outcome == Outcome::kDelivered) {
      // Counted after the attempt is logged: whoever sees the count also finds the attempt.
      std::lock_guard lock(mu_);
      counters_.delivered++;
      failing_since_ms_ = 0;
    }
    if (dead) {
      DeadLetter(s, p);
      if (!p.done) s.retry.emplace(p.next_at_ms, c.offset);  // the dead letter is tried again
    }
    if (p.done && p.ordered) {
      auto& q = s.keys[p.key];
      if (!q.empty() && q.front() == c.offset) q.pop_front();
      if (q.empty()) {
        // An idle key keeps its entry (and its queue's capacity) while the map is small: with
        // a steady set of keys, no node is allocated and freed per event. Bounded all the same.
        if (s.keys.size() > 2 * d_->options_.max_buffered_per_stream) s.keys.erase(p.key);
      } else if (auto next = s.window.find(q.front()); next != s.window.end()) {
        next->second.key_head = true;  // the key's next event may go now
        s.ready.push(next->first);
      }
    }
    if (status == 410) {
      Disable("endpoint answered 410 Gone");
    } else if (outcome != Outcome::kDelivered) {
      int64_t since;
      {
        std::lock_guard lock(mu_);
        since = failing_since_ms_;
      }
      if (since != 0 && now - since >= rp.disable_after.count()) {
        Disable("every delivery failed for " + std::to_string((now - since) / 1000) + " s");
      }
    }
  }

  void DeadLetter(Stream& s, Pending& p) {
    std::string v = "{\"stage\":\"delivery\",\"subscription\":";
    json::AppendQuoted(sub_.id, &v);
    v += ",\"url\":";
    json::AppendQuoted(sub_.url, &v);
    const AttemptRecord& last = p.history.back();
    std::string error = !last.error.empty() ? last.error
                                            : "HTTP " + std::to_string(last.status) +
                                                  " after " + std::to_string(p.attempts) +
                                                  " attempt(s)";
    v += ",\"error\":";
    json::AppendQuoted(error, &v);
    v += ",\"source\":{\"topic\":";
    json::AppendQuoted(s.topic, &v);
    v += ",\"partition\":" + std::to_string(s.partition) +
         ",\"offset\":" + std::to_string(p.record.offset) + "}";
    v += ",\"event\":" + ToStructuredJson(p.event);
    v += ",\"attempts\":[";
    for (size_t i = 0; i < p.history.size(); ++i) {
      if (i) v += ',';
      v += AttemptToJson(p.history[i]);
    }
    v += "]}";
    AppendRecord rec;
    rec.topic = d_->options_.dead_letter_topic;
    rec.key = p.record.key;
    rec.headers = {{"eventception-stage", "delivery"},
                   {"eventception-subscription", sub_.id},
                   {"content-type", "application/json"}};
    rec.value = std::move(v);
    rec.timestamp_ms = Now();
    auto off = d_->log_->Append(rec);
    if (!off.ok()) {
      // The event stays undelivered (and uncommitted); the dead letter is tried again later.
      std::fprintf(stderr, "delivery: subscription %s: cannot dead-letter %s@%lld: %s\n",
                   sub_.id.c_str(), s.topic.c_str(), static_cast<long long>(p.record.offset),
                   off.status().ToString().c_str());
      p.next_at_ms = Now() + 1000;
      p.attempts--;
      return;
    }
    p.done = true;
    std::lock_guard lock(mu_);
    counters_.dead_lettered++;
  }

  void Disable(const std::string& reason) {
    {
      std::lock_guard lock(mu_);
      if (paused_) return;
      paused_ = true;
      sub_.disabled_reason = reason;
    }
    std::fprintf(stderr, "delivery: subscription %s (%s) disabled: %s; resume it with POST "
                 "/v1/subscriptions/%s/resume\n",
                 sub_.id.c_str(), sub_.url.c_str(), reason.c_str(), sub_.id.c_str());
    // Safe: the dispatcher never holds its lock while waiting for a worker to stop.
    d_->OnDisabled(sub_.id, reason);
  }

  // Drops finished events at the front of each window. True when a position moved.
  bool Advance() {
    bool moved = dirty_;
    size_t buffered = 0;
    for (Stream& s : streams_) {
      while (!s.window.empty() && s.window.begin()->second.done) {
        s.window.erase(s.window.begin());
        moved = true;
      }
      buffered += s.window.size();
    }
    std::lock_guard lock(mu_);
    buffered_snapshot_ = buffered;
    return moved;
  }

  // Hands the positions to the saver; `wait` (replay, stop) returns once they are durable.
  void SavePositions(bool wait = false) {
    Positions pos = stored_;
    std::vector<StreamPosition> snap;
    for (const Stream& s : streams_) {
      pos[{s.topic, s.partition}] = s.Committed();
      snap.push_back({s.topic, s.partition, s.Committed(), 0});
    }
    if (pos != stored_ || dirty_) {
      stored_ = pos;
      dirty_ = false;
      saver_.Commit(std::move(pos), wait);
    } else if (wait) {
      saver_.Commit(stored_, true);
    }
    std::lock_guard lock(mu_);
    positions_snapshot_ = std::move(snap);
  }

  Dispatcher* d_;
  // The event loop (run by the worker thread only) and what wakes it from other threads.
  // Declared before everything that holds sockets or timers on it.
  boost::asio::io_context ioc_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{
      ioc_.get_executor()};
  std::shared_ptr<LoopWaker> waker_ = std::make_shared<LoopWaker>(&ioc_);
  boost::asio::steady_timer hold_timer_{ioc_};  // ends a coalescing hold (worker thread only)
  bool hold_timer_armed_ = false;
  bool hold_busy_ = false;          // the last hold had records waiting: expect more
  size_t last_fill_count_ = 0;      // records that read found
  static constexpr size_t kBacklogRead = 32;
  Clock::time_point last_fill_{};   // when new records were last read
  std::chrono::microseconds arrival_gap_{0};  // recent time per appended record (0: unknown)

  // Guarded by mu_.
  mutable std::mutex mu_;
  Subscription sub_;
  bool stopping_ = false;
  bool paused_ = false;
  int in_flight_ = 0;
  int64_t failing_since_ms_ = 0;
  std::vector<Completion> completions_;
  std::optional<Replay> replay_;
  SubscriptionStatus counters_;
  std::vector<StreamPosition> positions_snapshot_;
  size_t buffered_snapshot_ = 0;

  // Immutable after construction.
  std::shared_ptr<const EventFilter> filter_;
  Url url_;
  std::string request_start_;  // request line, Host and User-Agent (see Send)
  std::string auth_header_;

  // Worker-thread state.
  Positions stored_;
  std::vector<Stream> streams_;
  uint64_t generation_ = 0;
  bool started_scan_ = false;
  bool dirty_ = false;    // a position moved past skipped records
  bool unsaved_ = false;  // positions moved since the last save

  std::unique_ptr<Signer> signer_;  // used by the worker thread only
  std::unique_ptr<HttpClient> client_;  // on ioc_; no exchange in flight once Run returns
  AttemptLog attempts_;
  PositionSaver saver_;
  std::thread thread_;

  friend class Dispatcher;
};

// ---------------------------------------------------------------------------------------------

Dispatcher::Dispatcher(EventLog* log, DispatcherOptions options)
    : log_(log), options_(std::move(options)) {
  if (!options_.clock_ms) {
    options_.clock_ms = [] {
      return std::chrono::duration_cast<milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!options_.random) {
    auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
    auto mu = std::make_shared<std::mutex>();
    options_.random = [rng, mu] {
      std::lock_guard lock(*mu);
      return std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
    };
  }
  store_ = std::make_unique<SubscriptionStore>(options_.dir);
}

Dispatcher::~Dispatcher() { Stop(); }

Status Dispatcher::Start() {
  std::lock_guard lock(mu_);
  if (started_) return Status::Ok();
  EC_RETURN_IF_ERROR(store_->Open());
  EC_ASSIGN_OR_RETURN(subs_, store_->LoadSubscriptions());
  http_options_.guard = SsrfGuard(options_.allow);
  http_options_.max_response_body = std::max<size_t>(options_.response_excerpt_bytes, 1024);
  http_options_.default_ca_file = options_.tls_ca_file;
  started_ = true;
  for (const Subscription& s : subs_) {
    Status st = StartWorkerLocked(s);
    if (!st.ok()) {
      std::fprintf(stderr, "delivery: subscription %s not started: %s\n", s.id.c_str(),
                   st.ToString().c_str());
    }
  }
  return Status::Ok();
}

void Dispatcher::Stop() {
  std::map<std::string, std::unique_ptr<Worker>> workers;
  {
    std::lock_guard lock(mu_);
    if (!started_) return;
    started_ = false;
    workers.swap(workers_);
  }
  for (auto& [id, w] : workers) w->Stop();
  workers.clear();
}

// The CA file is checked when a subscription is created or changed, not when the store is
// loaded: a file removed later fails deliveries (named in the attempts log), not the server.
static Status CheckCaFile(const Subscription& sub) {
  std::error_code ec;
  if (sub.tls_ca_file.empty() || std::filesystem::is_regular_file(sub.tls_ca_file, ec)) {
    return Status::Ok();
  }
  return InvalidArgument("subscription: \"tls_ca_file\" '" + sub.tls_ca_file +
                         "' is not a readable file; give the path of a PEM file with the CA "
                         "certificate(s) that sign the receiver's certificate");
}

Status Dispatcher::StartWorkerLocked(const Subscription& sub) {
  std::shared_ptr<const EventFilter> filter;
  if (!sub.filter.empty()) {
    EC_ASSIGN_OR_RETURN(filter, CompileFilter(sub.filter));
  }
  EC_ASSIGN_OR_RETURN(Positions pos, store_->LoadPositions(sub.id));
  workers_[sub.id] = std::make_unique<Worker>(this, sub, std::move(filter), std::move(pos));
  return Status::Ok();
}

Status Dispatcher::SaveLocked() { return store_->SaveSubscriptions(subs_); }

Result<std::string> Dispatcher::CreateJson(const json::Value& body) {
  EC_ASSIGN_OR_RETURN(Subscription sub, SubscriptionFromJson(body, nullptr));
  EC_ASSIGN_OR_RETURN(Subscription created, Create(std::move(sub)));
  return SubscriptionToJson(created, /*with_secret=*/true);
}

Result<Subscription> Dispatcher::Create(Subscription sub) {
  if (!sub.filter.empty()) {
    auto f = CompileFilter(sub.filter);
    if (!f.ok()) return f.status();
  }
  if (sub.secret.empty()) {
    EC_ASSIGN_OR_RETURN(sub.secret, GenerateSecret());
  }
  auto url = ParseUrl(sub.url);
  if (!url.ok()) return url.status();
  EC_RETURN_IF_ERROR(CheckCaFile(sub));
  // A literal address is checked now; host names are checked on every resolution.
  if (auto ip = ParseIp(url->host); ip.ok()) {
    EC_RETURN_IF_ERROR(SsrfGuard(options_.allow).Check(*ip));
  }
  std::lock_guard lock(mu_);
  if (!started_) return Unavailable("the webhook dispatcher is not running");
  if (sub.id.empty()) {
    std::mt19937_64 rng(std::random_device{}());
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
    sub.id = std::string("sub_") + buf;
  }
  for (const Subscription& s : subs_) {
    if (s.id == sub.id) return AlreadyExists("subscription '" + sub.id + "' already exists");
  }
  if (sub.created_ms == 0) sub.created_ms = options_.clock_ms();
  subs_.push_back(sub);
  Status st = SaveLocked();
  if (!st.ok()) {
    subs_.pop_back();
    return st;
  }
  EC_RETURN_IF_ERROR(StartWorkerLocked(sub));
  return sub;
}

std::vector<Subscription> Dispatcher::List() const {
  std::lock_guard lock(mu_);
  return subs_;
}

Result<Subscription> Dispatcher::Get(const std::string& id) const {
  std::lock_guard lock(mu_);
  for (const Subscription& s : subs_) {
    if (s.id == id) return s;
  }
  return NotFound("no subscription '" + id + "'; list them with GET /v1/subscriptions");
}

Result<Subscription> Dispatcher::Update(const std::string& id, const json::Value& patch) {
  std::unique_ptr<Worker> old;
  Subscription updated;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(subs_.begin(), subs_.end(), [&](auto& s) { return s.id == id; });
    if (it == subs_.end()) return NotFound("no subscription '" + id + "'");
    EC_ASSIGN_OR_RETURN(updated, SubscriptionFromJson(patch, &*it));
    EC_RETURN_IF_ERROR(CheckCaFile(updated));
    if (!updated.filter.empty()) {
      auto f = CompileFilter(updated.filter);
      if (!f.ok()) return f.status();
    }
    auto w = workers_.find(id);
    if (w != workers_.end()) {
      old = std::move(w->second);
      workers_.erase(w);
    }
  }
  if (old) old->Stop();  // saves its positions; outside the lock (see OnDisabled)
  old.reset();
  std::lock_guard lock(mu_);
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](auto& s) { return s.id == id; });
  if (it == subs_.end()) return NotFound("no subscription '" + id + "'");
  if (!updated.paused && it->paused) updated.disabled_reason.clear();
  *it = updated;
  EC_RETURN_IF_ERROR(SaveLocked());
  if (started_) EC_RETURN_IF_ERROR(StartWorkerLocked(updated));
  return updated;
}

Status Dispatcher::Delete(const std::string& id) {
  std::unique_ptr<Worker> old;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(subs_.begin(), subs_.end(), [&](auto& s) { return s.id == id; });
    if (it == subs_.end()) return NotFound("no subscription '" + id + "'");
    subs_.erase(it);
    EC_RETURN_IF_ERROR(SaveLocked());
    auto w = workers_.find(id);
    if (w != workers_.end()) {
      old = std::move(w->second);
      workers_.erase(w);
    }
  }
  if (old) old->Stop();
  return store_->DeletePositions(id);
}

Status Dispatcher::SetPaused(const std::string& id, bool paused) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(subs_.begin(), subs_.end(), [&](auto& s) { return s.id == id; });
  if (it == subs_.end()) return NotFound("no subscription '" + id + "'");
  it->paused = paused;
  if (!paused) it->disabled_reason.clear();
  EC_RETURN_IF_ERROR(SaveLocked());
  auto w = workers_.find(id);
  if (w != workers_.end()) w->second->SetPaused(paused);
  return Status::Ok();
}

void Dispatcher::OnDisabled(const std::string& id, const std::string& reason) {
  std::lock_guard lock(mu_);
  for (Subscription& s : subs_) {
    if (s.id == id) {
      s.disabled_reason = reason;
      Status st = SaveLocked();
      if (!st.ok()) std::fprintf(stderr, "delivery: %s\n", st.ToString().c_str());
    }
  }
}

Status Dispatcher::Replay(const std::string& id, std::optional<int64_t> offset,
                          std::optional<int64_t> time_ms, const std::string& topic) {
  if (!offset && !time_ms) {
    return InvalidArgument("replay needs \"offset\" (a number) or \"time\" (RFC 3339)");
  }
  std::lock_guard lock(mu_);
  auto w = workers_.find(id);
  if (w == workers_.end()) return NotFound("no running subscription '" + id + "'");
  w->second->RequestReplay(offset, time_ms, topic);
  return Status::Ok();
}

Result<std::vector<AttemptRecord>> Dispatcher::Attempts(const std::string& id, size_t limit) const {
  std::lock_guard lock(mu_);
  auto w = workers_.find(id);
  if (w == workers_.end()) return NotFound("no running subscription '" + id + "'");
  return w->second->attempts().Recent(limit);
}

Result<SubscriptionStatus> Dispatcher::GetStatus(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto w = workers_.find(id);
  if (w == workers_.end()) return NotFound("no running subscription '" + id + "'");
  return w->second->GetStatus();
}

}  // namespace ec::delivery
