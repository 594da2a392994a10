#pragma once

// The demo's live table: one row per pool, plain text, no CAF. Kept apart
// from demo.cpp so that the layout can be read (and changed) on its own.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace demo {

/// What one row shows: a pool's utilization and its key metrics.
struct pool_row {
  std::string name;
  size_t free = 0, in_use = 0, starting = 0, stopping = 0, queued = 0, max = 0;
  double takes = 0, no_members = 0, killed = 0;
  double wait_p99_ms = 0;
};

/// The p-th percentile (0..1) of `xs`, 0 for none.
inline double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto i = static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(i, xs.size() - 1)];
}

inline std::string format_row(const pool_row& r) {
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "%-10s %5zu %6zu %5zu %5zu %5zu %4zu | %7.0f %8.0f %6.0f %9.2f",
                r.name.c_str(), r.free, r.in_use, r.starting, r.stopping,
                r.queued, r.max, r.takes, r.no_members, r.killed,
                r.wait_p99_ms);
  return buf;
}

inline std::vector<std::string> format_table(const std::string& title,
                                             const std::vector<pool_row>& rows) {
  std::vector<std::string> lines;
  lines.push_back(title);
  lines.push_back("pool        free in_use start  stop queue  max |   takes "
                  "no_membr killed  wait p99");
  lines.push_back("                                               |         "
                  "                     (ms)");
  for (auto& r : rows)
    lines.push_back(format_row(r));
  return lines;
}

/// Prints a table; on a terminal, redraws it over the previous one.
class live_table {
public:
  explicit live_table(bool tty) : tty_(tty) {
  }

  void show(const std::vector<std::string>& lines) {
    if (tty_ && shown_ > 0)
      std::printf("\x1b[%zuA", shown_); // back to the first line
    for (auto& line : lines)
      std::printf(tty_ ? "\x1b[2K%s\n" : "%s\n", line.c_str());
    if (!tty_)
      std::printf("\n");
    std::fflush(stdout);
    shown_ = lines.size();
  }

private:
  bool tty_;
  size_t shown_ = 0;
};

} // namespace demo
