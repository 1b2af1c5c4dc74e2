// The Prometheus text exposition (format 0.0.4) of one scrape, read back into
// samples, with the few aggregations `skipjoin top` shows: sums over label
// filters, rates between two scrapes, and histogram quantiles over the
// observations made between them (the same interpolation as PromQL's
// histogram_quantile).
// Value types; thread-compatible.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin::cli {

struct MetricSample {
  std::string name;                           // with its _bucket/_sum/_count suffix
  std::map<std::string, std::string> labels;  // unescaped values
  double value = 0;
};

// Label name -> required value; a sample matches when it has every one.
using LabelFilter = std::map<std::string, std::string>;

class MetricsScrape {
 public:
  // Parses an exposition; InvalidArgument naming the line for a malformed one.
  static Result<MetricsScrape> Parse(std::string_view text);

  const std::vector<MetricSample>& samples() const { return samples_; }
  // Sum of the samples named `name` that match `filter`; 0 when none.
  double Sum(const std::string& name, const LabelFilter& filter = {}) const;
  // Whether any sample named `name` matches.
  bool Has(const std::string& name, const LabelFilter& filter = {}) const;
  // The distinct values of `label` over the samples named `name`, sorted.
  std::vector<std::string> LabelValues(const std::string& name, const std::string& label) const;

 private:
  std::vector<MetricSample> samples_;
};

// (Sum(name) now - before) / seconds; 0 when seconds <= 0 or the counter went
// down (a restart).
double RatePerSecond(const MetricsScrape& before, const MetricsScrape& now, const std::string& name,
                     double seconds, const LabelFilter& filter = {});

// The q-quantile (0..1) of the observations of histogram `base` (without
// _bucket) matching `filter` made between `before` and `now`, summed over
// the other labels; NaN when there were none. Within a bucket the value is
// interpolated linearly; in the +Inf bucket it is the largest finite bound.
double HistogramQuantile(const MetricsScrape& before, const MetricsScrape& now,
                         const std::string& base, double q, const LabelFilter& filter = {});

}  // namespace skipjoin::cli
