#include "client/metrics_text.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

namespace skipjoin::cli {
namespace {

bool Matches(const MetricSample& s, const LabelFilter& filter) {
  for (const auto& [k, v] : filter) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  return true;
}

double ParseValue(std::string_view v, bool* ok) {
  *ok = true;
  if (v == "+Inf" || v == "Inf") return std::numeric_limits<double>::infinity();
  if (v == "-Inf") return -std::numeric_limits<double>::infinity();
  if (v == "NaN") return std::numeric_limits<double>::quiet_NaN();
  const std::string s(v);
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  *ok = !s.empty() && end == s.c_str() + s.size();
  return d;
}

// Reads `{a="x",b="y"}` from line[*i] ('{'); false when malformed.
bool ParseLabels(std::string_view line, size_t* i, std::map<std::string, std::string>* out) {
  ++*i;  // '{'
  while (*i < line.size() && line[*i] != '}') {
    const size_t eq = line.find('=', *i);
    if (eq == std::string_view::npos || eq + 1 >= line.size() || line[eq + 1] != '"') return false;
    std::string name(line.substr(*i, eq - *i));
    std::string value;
    size_t j = eq + 2;
    for (; j < line.size() && line[j] != '"'; ++j) {
      if (line[j] == '\\' && j + 1 < line.size()) {
        ++j;
        value += line[j] == 'n' ? '\n' : line[j];
      } else {
        value += line[j];
      }
    }
    if (j >= line.size()) return false;
    (*out)[std::move(name)] = std::move(value);
    *i = j + 1;
    if (*i < line.size() && line[*i] == ',') ++*i;
  }
  if (*i >= line.size()) return false;
  ++*i;  // '}'
  return true;
}

}  // namespace

Result<MetricsScrape> MetricsScrape::Parse(std::string_view text) {
  MetricsScrape out;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    MetricSample s;
    size_t i = line.find_first_of("{ ");
    if (i == std::string_view::npos || i == 0)
      return InvalidArgument("metrics line " + std::to_string(line_no) + ": no value");
    s.name = std::string(line.substr(0, i));
    if (line[i] == '{' && !ParseLabels(line, &i, &s.labels))
      return InvalidArgument("metrics line " + std::to_string(line_no) + ": bad labels");
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t value_end = line.find(' ', i);  // a timestamp may follow
    bool ok = false;
    s.value = ParseValue(line.substr(i, value_end == std::string_view::npos ? std::string_view::npos
                                                                            : value_end - i),
                         &ok);
    if (!ok) return InvalidArgument("metrics line " + std::to_string(line_no) + ": bad value");
    out.samples_.push_back(std::move(s));
  }
  return out;
}

double MetricsScrape::Sum(const std::string& name, const LabelFilter& filter) const {
  double sum = 0;
  for (const MetricSample& s : samples_) {
    if (s.name == name && Matches(s, filter)) sum += s.value;
  }
  return sum;
}

bool MetricsScrape::Has(const std::string& name, const LabelFilter& filter) const {
  return std::any_of(samples_.begin(), samples_.end(),
                     [&](const MetricSample& s) { return s.name == name && Matches(s, filter); });
}

std::vector<std::string> MetricsScrape::LabelValues(const std::string& name,
                                                    const std::string& label) const {
  std::set<std::string> values;
  for (const MetricSample& s : samples_) {
    if (s.name != name) continue;
    if (auto it = s.labels.find(label); it != s.labels.end()) values.insert(it->second);
  }
  return {values.begin(), values.end()};
}

double RatePerSecond(const MetricsScrape& before, const MetricsScrape& now, const std::string& name,
                     double seconds, const LabelFilter& filter) {
  const double delta = now.Sum(name, filter) - before.Sum(name, filter);
  if (seconds <= 0 || delta < 0) return 0;
  return delta / seconds;
}

double HistogramQuantile(const MetricsScrape& before, const MetricsScrape& now,
                         const std::string& base, double q, const LabelFilter& filter) {
  // Cumulative counts per upper bound, summed over the other labels.
  std::map<double, double> counts;
  const std::string bucket = base + "_bucket";
  for (const auto& [scrape, sign] : {std::pair{&now, 1.0}, std::pair{&before, -1.0}}) {
    for (const MetricSample& s : scrape->samples()) {
      if (s.name != bucket || !Matches(s, filter)) continue;
      auto le = s.labels.find("le");
      if (le == s.labels.end()) continue;
      bool ok = false;
      const double bound = ParseValue(le->second, &ok);
      if (ok) counts[bound] += sign * s.value;
    }
  }
  if (counts.empty()) return std::numeric_limits<double>::quiet_NaN();
  const double total = counts.rbegin()->second;
  if (!(total > 0)) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * total;
  double lower = 0, below = 0, last_finite = 0;
  for (const auto& [bound, count] : counts) {
    if (std::isinf(bound)) return last_finite;
    if (count >= rank) {
      if (count == below) return bound;
      return lower + (bound - lower) * (rank - below) / (count - below);
    }
    lower = bound;
    below = count;
    last_finite = bound;
  }
  return last_finite;
}

}  // namespace skipjoin::cli
