#pragma once
// Test support: run client programs (kcat, node, our librdkafka driver) as child processes.

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

extern char** environ;

namespace ec::kafka::testing {

// A shell command running in the background with stdout/stderr redirected to files.
class Child {
 public:
  Child(const std::string& cmd, const std::string& out, const std::string& err = "/dev/null") {
    std::string full = "exec " + cmd + " >" + out + " 2>" + err;
    const char* argv[] = {"/bin/sh", "-c", full.c_str(), nullptr};
    if (posix_spawn(&pid_, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) {
      pid_ = -1;
    }
  }
  ~Child() { Kill(SIGKILL); }
  // Sends `sig` and reaps; returns the exit status (or -1).
  int Kill(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    return Wait();
  }
  // Waits for exit; returns the exit code (128+signal when killed).
  int Wait() {
    if (pid_ <= 0) return -1;
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  // Waits up to `timeout` for exit; returns the code, or -2 (still running).
  int WaitFor(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && std::chrono::steady_clock::now() < end) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pid_ > 0 ? -2 : -1;
  }
  bool running() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// Runs `cmd` to completion (with a hard timeout in seconds); returns its exit code.
inline int RunCommand(const std::string& cmd, const std::string& out, int timeout_s = 60) {
  Child c("timeout -k 5 " + std::to_string(timeout_s) + " " + cmd, out, out + ".err");
  return c.Wait();
}

}  // namespace ec::kafka::testing
