#pragma once
// Starts `eventception serve` as a child process on free ports over a temp data dir, and
// stops it with SIGTERM. Used by the integration tests; no fixed ports, so runs can overlap.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace ec::server::testing {

class ServeProcess {
 public:
  // `args` come after `serve`; --http/--kafka default to port 0 unless given.
  explicit ServeProcess(std::vector<std::string> args) : args_(std::move(args)) {}
  ~ServeProcess() {
    Kill();
    if (!log_path_.empty()) std::remove(log_path_.c_str());
  }

  // Starts the binary and waits (up to 30 s) for the "listening" line. False on failure;
  // log() then says why.
  bool Start() {
    log_path_ = std::string("/tmp/ec_serve_") + std::to_string(getpid()) + "_" + std::to_string(counter_++) + ".log";
    std::vector<std::string> argv = {EC_BINARY, "serve"};
    argv.insert(argv.end(), args_.begin(), args_.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&pid_, EC_BINARY, &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return false;
    std::regex re("HTTP listening on [^:]+:(\\d+), Kafka protocol on [^:]+:(\\d+)");
    for (int i = 0; i < 3000; ++i) {
      std::smatch m;
      std::string text = log();
      if (std::regex_search(text, m, re)) {
        http_port_ = static_cast<uint16_t>(std::stoi(m[1]));
        kafka_port_ = static_cast<uint16_t>(std::stoi(m[2]));
        return true;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // SIGTERM and wait; returns the exit code (-1 if killed by a signal or not running).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_code_;
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  pid_t pid() const { return pid_; }
  // Whether the child still runs (reaps it if it ended).
  bool Alive() {
    if (pid_ <= 0) return false;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return false;
    }
    return true;
  }
  // Waits for the child to end (after a kill from elsewhere).
  void Wait() {
    if (pid_ <= 0) return;
    int status;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  uint16_t http_port() const { return http_port_; }
  uint16_t kafka_port() const { return kafka_port_; }
  int exit_code() const { return exit_code_; }

 private:
  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
  uint16_t http_port_ = 0;
  uint16_t kafka_port_ = 0;
  static inline int counter_ = 0;
};

// Runs a shell command; returns its stdout.
inline std::string RunCommand(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

}  // namespace ec::server::testing
