// Serving a metrics registry: an HTTP exposer on its own port (GET /metrics),
// and RenderText for a process that serves /metrics from its own HTTP server.
//
// Threading: MetricsServer runs its own HTTP threads (civetweb, inside
// prometheus-cpp) that read the registry on each scrape; the registry is
// thread-safe. Start and destruction happen on the owner's thread; the
// registry must outlive the server.
#pragma once

#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace skipjoin::monitoring {

// The Prometheus text exposition format (version 0.0.4) of everything in the registry.
std::string RenderText(const prometheus::Registry& registry);

// The content type that goes with RenderText's output.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

class MetricsServer {
 public:
  // Serves `registry` at http://<bind_address>/metrics. bind_address is
  // "host:port" ("0.0.0.0:9400"); port 0 picks a free port (see port()).
  // kUnavailable when the address cannot be bound (port in use).
  static Result<std::unique_ptr<MetricsServer>> Start(
      const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry);

  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The port actually bound.
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                std::shared_ptr<prometheus::Registry> registry, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  std::shared_ptr<prometheus::Registry> registry_;  // kept alive while served
  int port_ = 0;
};

}  // namespace skipjoin::monitoring
