#include "tests/monitoring/dashboard_exprs.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

namespace skipjoin::monitoring_test {
namespace {

// Reads a JavaScript string literal starting at s[*i] (a '"' or '\''); moves
// *i past it.
std::string JsString(const std::string& s, size_t* i) {
  const char quote = s[*i];
  std::string out;
  for (++*i; *i < s.size() && s[*i] != quote; ++*i) {
    if (s[*i] == '\\' && *i + 1 < s.size()) ++*i;
    out += s[*i];
  }
  ++*i;
  return out;
}

void SkipSpace(const std::string& s, size_t* i) {
  while (*i < s.size() && (std::isspace(static_cast<unsigned char>(s[*i])) || s[*i] == ',')) ++*i;
}

// The graph id of the SkipjoinGraph("id", ...) call around position `pos`.
std::string GraphIdBefore(const std::string& s, size_t pos) {
  const size_t call = s.rfind("SkipjoinGraph(\"", pos);
  if (call == std::string::npos) return "?";
  const size_t start = call + std::string("SkipjoinGraph(\"").size();
  return s.substr(start, s.find('"', start) - start);
}

void WalkPanels(const nlohmann::json& panels, const std::string& file,
                std::vector<DashboardExpr>* out) {
  if (!panels.is_array()) return;
  for (const auto& p : panels) {
    const std::string title = p.value("title", std::string("?"));
    if (p.contains("targets") && p["targets"].is_array()) {
      for (const auto& t : p["targets"]) {
        if (t.contains("expr") && t["expr"].is_string())
          out->push_back({file, title, t["expr"].get<std::string>()});
      }
    }
    if (p.contains("panels")) WalkPanels(p["panels"], file, out);
  }
}

}  // namespace

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<DashboardExpr> ConsoleExpressions(const std::string& monitoring_dir,
                                              const std::string& page) {
  const std::string file = "consoles/" + page;
  const std::string s = ReadText(monitoring_dir + "/" + file);
  std::vector<DashboardExpr> out;
  // Graphs.
  for (size_t pos = s.find("expr:"); pos != std::string::npos; pos = s.find("expr:", pos + 1)) {
    size_t i = pos + 5;
    SkipSpace(s, &i);
    const std::string id = GraphIdBefore(s, pos);
    if (i < s.size() && s[i] == '"') {
      out.push_back({file, id, JsString(s, &i)});
    } else if (i < s.size() && s[i] == '[') {
      ++i;
      for (SkipSpace(s, &i); i < s.size() && s[i] == '"'; SkipSpace(s, &i))
        out.push_back({file, id, JsString(s, &i)});
    }
  }
  // Table queries in template actions.
  static const std::regex kQuery(R"re((?:template "sj_\w+"|query|printf) "([^"]*)")re");
  static const std::regex kOneValue(R"(='%s')");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kQuery); it != std::sregex_iterator();
       ++it) {
    out.push_back({file, "table", std::regex_replace((*it)[1].str(), kOneValue, "=~'.+'")});
  }
  return out;
}

std::vector<std::string> ConsoleGraphIds(const std::string& monitoring_dir,
                                         const std::string& page) {
  const std::string s = ReadText(monitoring_dir + "/consoles/" + page);
  static const std::regex kPlot(R"re(id="([^"]+)" class="sj_plot")re");
  std::vector<std::string> ids;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), kPlot); it != std::sregex_iterator();
       ++it) {
    ids.push_back((*it)[1].str());
  }
  return ids;
}

std::vector<std::string> ConsolePages(const std::string& monitoring_dir) {
  std::vector<std::string> pages;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(monitoring_dir + "/consoles", ec)) {
    if (e.path().extension() == ".html") pages.push_back(e.path().filename().string());
  }
  std::sort(pages.begin(), pages.end());
  return pages;
}

std::vector<DashboardExpr> AlertExpressions(const std::string& monitoring_dir) {
  std::vector<DashboardExpr> out;
  const YAML::Node root = YAML::LoadFile(monitoring_dir + "/alerts.yml");
  for (const auto& group : root["groups"]) {
    for (const auto& rule : group["rules"]) {
      if (!rule["alert"]) continue;
      out.push_back(
          {"alerts.yml", rule["alert"].as<std::string>(), rule["expr"].as<std::string>()});
    }
  }
  return out;
}

std::vector<DashboardExpr> GrafanaExpressions(const std::string& monitoring_dir) {
  std::vector<DashboardExpr> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(monitoring_dir + "/grafana", ec)) {
    if (e.path().extension() != ".json") continue;
    const auto doc = nlohmann::json::parse(ReadText(e.path().string()));
    WalkPanels(doc["panels"], "grafana/" + e.path().filename().string(), &out);
  }
  return out;
}

std::vector<std::string> MetricNames(const std::string& expr) {
  static const std::regex kName(R"(\b(skipjoin_[a-z0-9_]+|up)\b)");
  std::vector<std::string> names;
  for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kName);
       it != std::sregex_iterator(); ++it) {
    names.push_back((*it)[1].str());
  }
  return names;
}

}  // namespace skipjoin::monitoring_test
