// The PromQL expressions of the shipped dashboards, read from the files in
// monitoring/: console pages (graph `expr:` lists and template queries), alert
// rules, and the Grafana dashboard. Tests check the metric names against the
// exporters and run each expression against a live Prometheus.
// Pure functions over files; thread-compatible.
#pragma once

#include <string>
#include <vector>

namespace skipjoin::monitoring_test {

struct DashboardExpr {
  std::string file;   // path relative to monitoring/, e.g. "consoles/skipjoin.html"
  std::string where;  // graph id, alert name or panel title
  std::string expr;   // PromQL; a table query's "%s" placeholders already widened
};

// Graph expressions (`expr: "..."` or `expr: ["...", ...]` in the page's
// script) and table queries (`template "sj_*" "..."`, `query "..."`,
// `printf "..."`) of one console page. A table query that names one label
// value through printf (`replica='%s'`) is widened to every value
// (`replica=~'.+'`).
std::vector<DashboardExpr> ConsoleExpressions(const std::string& monitoring_dir,
                                              const std::string& page);
// The ids of the graphs a console page draws (elements of class sj_plot).
std::vector<std::string> ConsoleGraphIds(const std::string& monitoring_dir,
                                         const std::string& page);
// The console pages (consoles/*.html file names), sorted.
std::vector<std::string> ConsolePages(const std::string& monitoring_dir);
// alerts.yml: one per rule, `where` = the alert's name.
std::vector<DashboardExpr> AlertExpressions(const std::string& monitoring_dir);
// grafana/*.json: every target's expr, `where` = the panel title.
std::vector<DashboardExpr> GrafanaExpressions(const std::string& monitoring_dir);

// The metric names (skipjoin_* and up) an expression reads; template names
// defined in console libraries are not metrics and are skipped by callers.
std::vector<std::string> MetricNames(const std::string& expr);

// The whole file ("" when unreadable).
std::string ReadText(const std::string& path);

}  // namespace skipjoin::monitoring_test
