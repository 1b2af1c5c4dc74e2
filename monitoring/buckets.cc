#include "monitoring/buckets.h"

namespace skipjoin::monitoring {

std::vector<double> FirstTokenBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.25, 0.5,  0.75, 1.0,
          2.5,   5.0,  7.5,   10.0, 20.0, 40.0, 60.0, 120.0};
}

std::vector<double> PerTokenBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1,
          0.15,  0.2,    0.3,   0.5,  0.75, 1.0,  2.5,  5.0};
}

std::vector<double> RequestLatencyBuckets() {
  return {0.05, 0.1,  0.25, 0.5,  1.0,  2.5,   5.0,   10.0,
          15.0, 20.0, 30.0, 40.0, 60.0, 120.0, 300.0, 600.0};
}

std::vector<double> StepBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  30.0};
}

std::vector<double> HostOverheadBuckets() {
  return {0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
          0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    1.0};
}

std::vector<double> StepTokenBuckets() {
  std::vector<double> b;
  for (double v = 1; v <= 8192; v *= 2) b.push_back(v);
  return b;
}

std::vector<double> RequestTokenBuckets() {
  std::vector<double> b;
  for (double v = 1; v <= 32768; v *= 4) b.push_back(v);
  return b;
}

}  // namespace skipjoin::monitoring
