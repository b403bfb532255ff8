#include "annbench_git.h"
#include "system_info.h"

#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <ctime>
#include <fstream>
#include <string>

namespace annbench {

namespace {

// The model name alone does not tell CPUs apart (virtual machines report "AMD EPYC" for every
// generation), and the speed gate trusts a committed baseline only on the same CPU: family,
// model and stepping name the microarchitecture.
std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  std::string name, family, model, stepping;
  auto value = [&line] {
    const auto colon = line.find(':');
    const auto start =
        colon == std::string::npos ? std::string::npos : line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string() : line.substr(start);
  };
  while (std::getline(cpuinfo, line) && !line.empty()) {
    if (line.rfind("model name", 0) == 0)
      name = value();
    else if (line.rfind("cpu family", 0) == 0)
      family = value();
    else if (line.rfind("model\t", 0) == 0 || line.rfind("model ", 0) == 0)
      model = value();
    else if (line.rfind("stepping", 0) == 0)
      stepping = value();
  }
  if (name.empty()) return "unknown";
  if (family.empty() || model.empty()) return name;
  return name + " (family " + family + " model " + model +
         (stepping.empty() ? "" : " stepping " + stepping) + ")";
}

SystemInfo gather() {
  SystemInfo info;
  info.git_commit = ANNBENCH_GIT_COMMIT;  // recorded when this binary was built
  info.compiler = ANNBENCH_CXX_COMPILER;
  info.flags = ANNBENCH_CXX_FLAGS;
  info.cpu = cpu_model();
  std::array<char, 256> host{};
  info.hostname = gethostname(host.data(), host.size() - 1) == 0 ? host.data() : "unknown";
  return info;
}

}  // namespace

const SystemInfo& system_info() {
  static const SystemInfo info = gather();
  return info;
}

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t total_pages = 0;
  std::size_t resident_pages = 0;
  if (!(statm >> total_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::size_t peak_resident_bytes() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::size_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  std::array<char, 32> text{};
  std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text.data();
}

}  // namespace annbench
