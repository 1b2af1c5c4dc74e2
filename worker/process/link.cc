#include "worker/process/link.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <type_traits>
#include <variant>
#include <zmq.hpp>

#include "common/logging.h"
#include "protocol/channel.h"

namespace skipjoin::worker {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// std::visit over a set of lambdas.
template <typename... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <typename... F>
Overloaded(F...) -> Overloaded<F...>;

long long Ms(Clock::duration d) { return std::chrono::duration_cast<milliseconds>(d).count(); }

// Connection state of the DEALER, from the socket monitor.
struct MonitorState {
  bool connected = false;
  bool ever_connected = false;
  int reconnects = 0;  // connections made after the first
  bool auth_refused = false;  // the coordinator refused this worker's key
  Clock::time_point since = Clock::now();  // last change
};

void DrainMonitor(zmq::socket_t& monitor, MonitorState& state) {
  while (true) {
    zmq::message_t event;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return;
    uint16_t id = 0;
    if (event.size() >= sizeof(id)) std::memcpy(&id, event.data(), sizeof(id));
    zmq::message_t address;  // second frame: the endpoint
    if (event.more()) (void)monitor.recv(address, zmq::recv_flags::none);
    if (id == ZMQ_EVENT_CONNECTED && !state.connected) {
      if (state.ever_connected) ++state.reconnects;
      state.connected = true;
      state.ever_connected = true;
      state.since = Clock::now();
      SJ_LOG(Info) << "connected to the coordinator";
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      state.auth_refused = true;
    } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL || id == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
      SJ_LOG(Warn) << "the secure handshake with the coordinator failed (does it use this cluster's keys and "
                      "security.auth?); retrying";
    } else if (id == ZMQ_EVENT_DISCONNECTED && state.connected) {
      state.connected = false;
      state.since = Clock::now();
      SJ_LOG(Warn) << "lost the connection to the coordinator; waiting for it to come back";
    }
  }
}

}  // namespace

Link::Link(LinkOptions options, monitoring::WorkerMetrics* metrics)
    : options_(std::move(options)), metrics_(metrics) {}

int Link::Run() {
  zmq::context_t context(1);
  protocol::ChannelOptions channel_options;
  channel_options.routing_id = "worker-" + options_.registration.node + "-" +
                               options_.executor.device + "-" +
                               std::to_string(options_.registration.pid);
  channel_options.curve = options_.curve;
  auto channel = protocol::DealerChannel::Connect(context, options_.coordinator, channel_options);
  if (!channel.ok()) {
    SJ_LOG(Error) << "cannot connect to the coordinator at " << options_.coordinator << ": "
                  << channel.status().ToString();
    return kExitFatal;
  }
  protocol::DealerChannel& dealer = *channel;

  // Connection events tell a coordinator that is gone from one that is idle.
  const std::string monitor_endpoint = "inproc://skipjoin-worker-link-monitor";
  zmq_socket_monitor(dealer.socket().handle(), monitor_endpoint.c_str(),
                     ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
  zmq::socket_t monitor(context, zmq::socket_type::pair);
  monitor.connect(monitor_endpoint);

  Mailbox<Outgoing> outbox;
  Executor executor(options_.executor, metrics_, &outbox);
  executor.Start();

  const auto send_timeout = milliseconds(5000);
  auto send = [&](const protocol::Message& m) {
    if (Status st = dealer.Send(m, send_timeout); !st.ok()) {
      SJ_LOG(Warn) << "could not send " << protocol::MessageTypeName(protocol::TypeOf(m))
                   << " to the coordinator: " << st.ToString();
    }
  };
  auto finish = [&](int code) {
    executor.Stop();
    // Give queued replies (a final ErrorReply) a moment to leave.
    dealer.socket().set(zmq::sockopt::linger, 1000);
    zmq_socket_monitor(dealer.socket().handle(), nullptr, 0);
    monitor.close();
    dealer.Close();
    return code;
  };

  SJ_LOG(Info) << "registering with the coordinator at " << options_.coordinator << " as "
               << options_.registration.node << "/" << options_.executor.device;
  send(options_.registration);

  auto start = Clock::now();  // of the latest registration
  MonitorState conn;
  int reconnects_seen = 0;
  bool reregistering = false;  // registered again after a reconnect, no assignment yet
  Clock::time_point last_contact = start;
  Clock::time_point next_heartbeat = start + options_.heartbeat_interval;
  bool assigned = false;
  uint32_t worker_id = 0;
  // Drops the assignment and registers again; the next one reloads the model.
  auto register_again = [&](const std::string& why) {
    SJ_LOG(Info) << why << "; registering again";
    assigned = false;
    reregistering = true;
    start = Clock::now();
    send(options_.registration);
  };

  // One handler per message the coordinator may send; a handler returns the
  // exit status when the worker must stop.
  using Exit = std::optional<int>;
  auto dispatch = Overloaded{
      [&](protocol::ModelAssignment& a) -> Exit {
        if (assigned) {
          send(protocol::ErrorReply{protocol::ErrorInfo::FromStatus(
                                        FailedPrecondition("this worker already has an assignment")),
                                    ""});
          return std::nullopt;
        }
        assigned = true;
        reregistering = false;
        worker_id = a.worker_id;
        executor.Submit({std::move(a), last_contact});
        return std::nullopt;
      },
      [&](protocol::StepPlan& plan) -> Exit {
        if (!assigned) {
          send(protocol::StepResult{plan.replica_id,
                                    plan.step_id,
                                    0,
                                    {},
                                    {},
                                    protocol::ErrorInfo::FromStatus(FailedPrecondition(
                                        "step plan before the model assignment"))});
          return std::nullopt;
        }
        executor.Submit({std::move(plan), last_contact});
        return std::nullopt;
      },
      [&](protocol::Shutdown& shutdown) -> Exit {
        SJ_LOG(Info) << "coordinator asked to shut down"
                     << (shutdown.reason.empty() ? "" : ": " + shutdown.reason);
        return finish(kExitClean);
      },
      [&](protocol::ErrorReply& error) -> Exit {
        const Status why = error.error.ToStatus();
        if (assigned && why.code() == StatusCode::kNotFound) {
          // The coordinator does not know this worker (it dropped it as
          // silent, or restarted): register again, as after a reconnect.
          register_again("the coordinator does not know this worker (" + why.message() + ")");
          return std::nullopt;
        }
        SJ_LOG(Error) << "coordinator reported an error: " << why.ToString();
        // While registering again, an error may answer a heartbeat sent to
        // the old coordinator; a refused re-registration ends at the
        // register timeout instead.
        if (assigned || reregistering) return std::nullopt;
        SJ_LOG(Error) << "registration refused; the worker exits";
        return finish(kExitFatal);
      },
      // The coordinator may echo heartbeats; contact time is all we need.
      [&](protocol::Heartbeat&) -> Exit { return std::nullopt; },
      [&](auto& other) -> Exit {
        const char* name = protocol::MessageTypeName(std::decay_t<decltype(other)>::kType);
        SJ_LOG(Warn) << "unexpected " << name << " from the coordinator";
        send(protocol::ErrorReply{
            protocol::ErrorInfo::FromStatus(
                InvalidArgument(std::string("a worker does not accept ") + name + " messages")),
            ""});
        return std::nullopt;
      },
  };

  while (true) {
    if (stop_requested_.load(std::memory_order_relaxed)) {
      SJ_LOG(Info) << "stop requested; exiting";
      return finish(kExitClean);
    }
    const auto now = Clock::now();
    const auto wait = std::clamp(std::chrono::duration_cast<milliseconds>(next_heartbeat - now),
                                 milliseconds(0), milliseconds(200));
    zmq::pollitem_t items[] = {
        {dealer.socket().handle(), 0, ZMQ_POLLIN, 0},
        {monitor.handle(), 0, ZMQ_POLLIN, 0},
        {nullptr, outbox.fd(), ZMQ_POLLIN, 0},
    };
    try {
      zmq::poll(items, 3, wait);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) {
        SJ_LOG(Error) << "poll: " << e.what();
      }
      continue;  // a signal: re-check the stop flag
    }

    if (items[1].revents & ZMQ_POLLIN) {
      DrainMonitor(monitor, conn);
      const bool reconnected = conn.reconnects != reconnects_seen;
      reconnects_seen = conn.reconnects;
      if (reconnected && assigned) {
        // A new connection may reach a coordinator that restarted and knows
        // nothing of this worker (or one that dropped it meanwhile): register
        // again; the model is reloaded with the new assignment. Before the
        // first assignment the registration still queued in the socket goes
        // out on the new connection by itself.
        register_again("reconnected to the coordinator");
      }
      if (conn.auth_refused) {
        SJ_LOG(Error) << "the coordinator at " << options_.coordinator
                      << " refused this worker's key; is node-" << options_.registration.node
                      << ".key the one of this cluster's key directory? The worker exits";
        return finish(kExitFatal);
      }
    }

    if (items[2].revents & ZMQ_POLLIN) {
      for (Outgoing& out : outbox.PopAll()) {
        send(out.message);
        if (out.fatal) {
          SJ_LOG(Error) << "fatal error; the worker exits";
          return finish(kExitFatal);
        }
      }
    }

    if (items[0].revents & ZMQ_POLLIN) {
      while (true) {
        auto received = dealer.Recv(milliseconds(0));
        if (!received.ok() && received.status().code() == StatusCode::kDeadlineExceeded) break;
        last_contact = Clock::now();
        if (!conn.connected) {  // the monitor may have missed the connect event
          conn.connected = conn.ever_connected = true;
          conn.since = last_contact;
        }
        if (!received.ok()) {
          // A frame that does not decode: report it, keep serving.
          metrics_->malformed_frames().Increment();
          SJ_LOG(Error) << "malformed frame from the coordinator: " << received.status().ToString();
          send(protocol::ErrorReply{protocol::ErrorInfo::FromStatus(received.status()), ""});
          continue;
        }
        if (std::optional<int> code = std::visit(dispatch, *received)) return *code;
      }
    }

    const auto after = Clock::now();
    // No heartbeats into a dropped connection: a restarted coordinator would
    // get them before the new registration.
    if (assigned && conn.connected && after >= next_heartbeat) {
      protocol::Heartbeat hb;
      hb.worker_id = worker_id;
      hb.unix_seconds = UnixSeconds();
      const ExecutorStats& s = executor.stats();
      hb.stats.steps_executed = s.steps_executed.load();
      hb.stats.device_memory_used_bytes = s.device_memory_used_bytes.load();
      hb.stats.busy_seconds = static_cast<double>(s.busy_micros.load()) / 1e6;
      send(hb);
      metrics_->heartbeats_sent().Increment();
      next_heartbeat = after + options_.heartbeat_interval;
    } else if (after >= next_heartbeat) {
      next_heartbeat = after + options_.heartbeat_interval;
    }

    // Liveness: while connected the coordinator is there even when idle.
    if (!assigned && after - start > options_.register_timeout) {
      SJ_LOG(Error) << "no model assignment from the coordinator at " << options_.coordinator
                    << " within " << Ms(options_.register_timeout) << " ms; exiting";
      return finish(kExitCoordinatorGone);
    }
    if (!conn.connected && conn.ever_connected) {
      const auto silent = after - std::max(last_contact, conn.since);
      if (silent > options_.coordinator_timeout) {
        SJ_LOG(Error) << "the coordinator at " << options_.coordinator
                      << " is gone (disconnected for " << Ms(silent) << " ms); exiting";
        return finish(kExitCoordinatorGone);
      }
    }
  }
}

}  // namespace skipjoin::worker
