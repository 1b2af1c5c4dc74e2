// Every metric a console page, alert rule or Grafana panel reads is one the
// coordinator or a worker exports, so a renamed metric cannot leave a
// dashboard silently empty. No server: the exporters' own expositions.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>

#include "monitoring/coordinator_metrics.h"
#include "monitoring/metrics_server.h"
#include "monitoring/worker_metrics.h"
#include "tests/monitoring/dashboard_exprs.h"

namespace skipjoin::monitoring_test {
namespace {

std::string MonitoringDir() {
  const char* dir = std::getenv("SKIPJOIN_SOURCE_DIR");
  return std::string(dir ? dir : ".") + "/monitoring";
}

// Series names of both expositions, with every per-replica and per-worker
// family instantiated.
std::set<std::string> ExportedNames() {
  prometheus::Registry registry;
  monitoring::CoordinatorMetrics c(registry);
  c.RegisterReplica("replica-0");
  c.ReplicaUp("replica-0").Set(1);
  c.WorkerUp("local:cpu:0", "replica-0").Set(1);
  c.StepCostCoefficient("a").Set(0);
  c.QueueLevelRequests(0).Set(0);
  monitoring::WorkerMetrics w(registry);
  w.SetIdentity({"local", "cpu:0", "0", "0", "0", "1"});
  std::istringstream text(monitoring::RenderText(registry));
  std::set<std::string> names = {"up", "ALERTS"};  // Prometheus's own
  for (std::string line; std::getline(text, line);) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  return names;
}

void ExpectExported(const std::vector<DashboardExpr>& exprs, const std::set<std::string>& names) {
  for (const DashboardExpr& e : exprs) {
    for (const std::string& name : MetricNames(e.expr)) {
      EXPECT_TRUE(names.count(name)) << e.file << " (" << e.where << ") reads " << name
                                     << ", which nothing exports: " << e.expr;
    }
  }
}

TEST(DashboardNamesTest, ConsolePagesReadExportedMetrics) {
  const auto names = ExportedNames();
  const auto pages = ConsolePages(MonitoringDir());
  ASSERT_GE(pages.size(), 4u) << "overview, scheduler, KV and workers pages";
  for (const std::string& page : pages) {
    const auto exprs = ConsoleExpressions(MonitoringDir(), page);
    const auto graphs = ConsoleGraphIds(MonitoringDir(), page);
    EXPECT_GE(graphs.size(), 4u) << page;
    // Every graph element has at least one expression drawing into it.
    for (const std::string& id : graphs) {
      EXPECT_TRUE(std::any_of(exprs.begin(), exprs.end(),
                              [&](const DashboardExpr& e) { return e.where == id; }))
          << page << ": graph " << id << " has no expression";
    }
    ExpectExported(exprs, names);
  }
}

TEST(DashboardNamesTest, AlertRulesReadExportedMetrics) {
  const auto exprs = AlertExpressions(MonitoringDir());
  EXPECT_GE(exprs.size(), 6u);
  ExpectExported(exprs, ExportedNames());
}

TEST(DashboardNamesTest, GrafanaPanelsReadExportedMetrics) {
  const auto exprs = GrafanaExpressions(MonitoringDir());
  EXPECT_GE(exprs.size(), 20u);
  ExpectExported(exprs, ExportedNames());
}

// The worker's identity label is cluster_node: a `node` label on a metric
// clashes with the scrape target's and arrives as exported_node.
TEST(DashboardNamesTest, NoMetricLabelClashesWithTargetLabels) {
  prometheus::Registry registry;
  monitoring::WorkerMetrics w(registry);
  w.SetIdentity({"local", "cpu:0", "0", "0", "0", "1"});
  monitoring::CoordinatorMetrics c(registry);
  c.RegisterReplica("replica-0");
  const std::string text = monitoring::RenderText(registry);
  // `worker` is fine on the coordinator (its target has none); the worker's
  // own series must not carry it, nor any metric `node`, `role`, `cluster`.
  for (const char* label : {"{node=", ",node=", "role=", "cluster="}) {
    EXPECT_EQ(text.find(label), std::string::npos) << label << " in\n" << text;
  }
  prometheus::Registry worker_only;
  monitoring::WorkerMetrics w2(worker_only);
  w2.SetIdentity({"local", "cpu:0", "0", "0", "0", "1"});
  EXPECT_EQ(monitoring::RenderText(worker_only).find("worker="), std::string::npos);
  for (const auto& list :
       {GrafanaExpressions(MonitoringDir()), AlertExpressions(MonitoringDir())}) {
    for (const auto& e : list) EXPECT_EQ(e.expr.find("exported_"), std::string::npos) << e.expr;
  }
}

}  // namespace
}  // namespace skipjoin::monitoring_test
