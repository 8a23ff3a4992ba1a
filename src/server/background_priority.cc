#include "server/background_priority.h"

#include <dirent.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

namespace ec::server {
namespace {

// Threads whose work no record waits for directly.
constexpr std::string_view kBackgroundPrefixes[] = {"rocksdb:", "ec-state-write", "ec-log-ckpt"};

bool IsBackground(std::string_view name) {
  for (std::string_view p : kBackgroundPrefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  return false;
}

}  // namespace

int LowerBackgroundThreads(int nice) {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return 0;
  int changed = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const std::string comm_path = std::string("/proc/self/task/") + e->d_name + "/comm";
    FILE* f = std::fopen(comm_path.c_str(), "r");
    if (f == nullptr) continue;  // the thread ended meanwhile
    char name[32] = {};
    const bool read = std::fgets(name, sizeof name, f) != nullptr;
    std::fclose(f);
    if (!read) continue;
    std::string_view n(name);
    if (!n.empty() && n.back() == '\n') n.remove_suffix(1);
    if (!IsBackground(n)) continue;
    const id_t tid = static_cast<id_t>(std::strtol(e->d_name, nullptr, 10));
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, tid);
    if (errno != 0 || now >= nice) continue;
    if (setpriority(PRIO_PROCESS, tid, nice) == 0) ++changed;
  }
  closedir(dir);
  return changed;
}

}  // namespace ec::server
