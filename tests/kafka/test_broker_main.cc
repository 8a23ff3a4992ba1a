// A test-only broker: `kafka_test_broker DATA_DIR [PORT]` serves DATA_DIR on 127.0.0.1:PORT
// (0 = free port), prints "PORT <n>" on stdout and runs until SIGTERM or SIGINT.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <unistd.h>

#include "kafka/server/server.h"
#include "log/log_manager.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR [PORT] [IO_THREADS]\n", argv[0]);
    return 2;
  }
  ec::log::LogManagerOptions lo;
  lo.data_dir = argv[1];
  auto logs = ec::log::LogManager::Open(lo);
  if (!logs.ok()) {
    std::fprintf(stderr, "%s\n", logs.status().ToString().c_str());
    return 1;
  }
  ec::kafka::ServerOptions so;
  so.listeners = {{"127.0.0.1", static_cast<uint16_t>(argc > 2 ? std::stoi(argv[2]) : 0)}};
  so.io_threads = argc > 3 ? std::stoi(argv[3]) : 1;
  // Block the signals before any thread starts so that only sigwait below receives them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  ec::kafka::Server server(so, logs->get());
  ec::Status st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  std::printf("PORT %u\n", server.bound_port());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  server.Stop();
  return 0;
}
