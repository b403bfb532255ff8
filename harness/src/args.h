#pragma once
// A small command-line parser: `--name value`, `--name=value`, `--flag`, and positionals.
// Unknown options are errors that list the accepted ones.

#include <annbench/error.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace annbench {

// Thrown for --help / -h: main() prints the text on stdout and exits 0.
struct HelpRequested {
  std::string text;
};

class Args {
 public:
  // valued: options that take a value; flags: options that don't. Names without dashes.
  // --help or -h anywhere throws HelpRequested with `usage` (or, without one, the command and
  // its accepted options).
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
       const std::set<std::string>& flags, const std::string& command,
       const std::string& usage = "");

  bool flag(const std::string& name) const { return flags_.count(name) != 0; }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& fallback) const;
  long long get_int_or(const std::string& name, long long fallback) const;
  double get_float_or(const std::string& name, double fallback) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  // Throws unless there are between min and max positionals.
  void expect_positionals(std::size_t min, std::size_t max, const std::string& usage) const;

 private:
  std::string command_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positionals_;
};

// "a,b,,c" -> {"a", "b", "c"}: list-valued options (--k 1,10, --algorithm a,b).
std::vector<std::string> split_commas(const std::string& text);

}  // namespace annbench
