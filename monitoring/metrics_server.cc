#include "monitoring/metrics_server.h"

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <sstream>
#include <utility>
#include <vector>

namespace skipjoin::monitoring {

std::string RenderText(const prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer,
                             std::shared_ptr<prometheus::Registry> registry, int port)
    : exposer_(std::move(exposer)), registry_(std::move(registry)), port_(port) {}

MetricsServer::~MetricsServer() = default;  // stops the HTTP threads before the registry goes

Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& bind_address, std::shared_ptr<prometheus::Registry> registry) {
  if (!registry) return InvalidArgument("MetricsServer::Start: no registry");
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // civetweb throws when the listening socket cannot be opened. Each
    // connection holds a thread until its request is in: with civetweb's
    // defaults (2 threads, 30 s request timeout) two idle TCP connections
    // blinded the endpoint for 30 s. 8 threads and a 2 s timeout make a
    // handful of idle connections cost a scrape at most 2 s.
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", bind_address, "num_threads", "8", "request_timeout_ms", "2000"});
  } catch (const std::exception& e) {
    return Unavailable("cannot serve metrics on " + bind_address + ": " + e.what());
  }
  exposer->RegisterCollectable(registry);
  std::vector<int> ports = exposer->GetListeningPorts();
  int port = ports.empty() ? 0 : ports.front();
  return std::unique_ptr<MetricsServer>(
      new MetricsServer(std::move(exposer), std::move(registry), port));
}

}  // namespace skipjoin::monitoring
