#include "worker/process/gloo_communicator.h"

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/hash_store.h>
#include <gloo/transport/tcp/device.h>

#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common/logging.h"

namespace skipjoin::worker {
namespace {

// Requests from rank r > 0 to rank 0's store: one op byte, then
//   'S' key '\0' value   -> ""            (set)
//   'G' key              -> '+' value     (get, waits for the key)
//   'W' key              -> '+'           (wait for the key)
//   'D'                  -> no reply      (this rank's mesh is connected)
// A failed wait answers '!' and a reason.
std::string Request(char op, const std::string& key, const std::vector<char>& value = {}) {
  std::string m(1, op);
  m += key;
  if (op == 'S') {
    m.push_back('\0');
    m.append(value.data(), value.size());
  }
  return m;
}

// The rendezvous store of one group: rank 0 keeps the keys and serves the other
// ranks from one thread per peer; the others forward every call to rank 0.
// gloo's Store interface reports failures by throwing.
class ChannelStore : public gloo::rendezvous::Store {
 public:
  ChannelStore(HostChannel& channel, std::chrono::milliseconds timeout)
      : channel_(channel), timeout_(timeout) {
    if (channel_.rank() != 0) return;
    for (int r = 1; r < channel_.size(); ++r) servers_.emplace_back([this, r] { Serve(r); });
  }
  ~ChannelStore() override {
    for (std::thread& t : servers_) t.join();
  }

  void set(const std::string& key, const std::vector<char>& data) override {
    if (channel_.rank() == 0) return local_.set(key, data);
    Call(Request('S', key, data));
  }
  std::vector<char> get(const std::string& key) override {
    if (channel_.rank() == 0) {
      local_.wait({key}, timeout_);
      return local_.get(key);
    }
    const std::string reply = Call(Request('G', key));
    return std::vector<char>(reply.begin() + 1, reply.end());
  }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override {
    if (channel_.rank() == 0) return local_.wait(keys, timeout);
    for (const std::string& k : keys) Call(Request('W', k));
  }

  // Peers: tell rank 0 this rank is done. Rank 0: wait until every peer is
  // (the server threads end), and report what went wrong on the way.
  Status Finish() {
    if (channel_.rank() != 0) return channel_.SendMessage(0, "D");
    for (std::thread& t : servers_) t.join();
    servers_.clear();
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  std::string Call(const std::string& request) {
    Status st = channel_.SendMessage(0, request);
    auto reply = st.ok() ? channel_.RecvMessage(0) : Result<std::string>(st);
    if (!reply.ok()) throw std::runtime_error("rendezvous store: " + reply.status().ToString());
    if (request[0] != 'S' && (reply->empty() || (*reply)[0] != '+')) {
      throw std::runtime_error("rendezvous store (rank 0): " +
                               (reply->empty() ? std::string("empty reply") : reply->substr(1)));
    }
    return std::move(reply).value();
  }

  void Serve(int peer) {
    while (true) {
      auto m = channel_.RecvMessage(peer);
      if (!m.ok()) return Fail(m.status());
      if (m->empty()) return Fail(InvalidArgument("empty rendezvous request"));
      const char op = (*m)[0];
      if (op == 'D') return;
      std::string reply;
      try {
        if (op == 'S') {
          const size_t nul = m->find('\0', 1);
          if (nul == std::string::npos) return Fail(InvalidArgument("malformed rendezvous set"));
          local_.set(m->substr(1, nul - 1), std::vector<char>(m->begin() + nul + 1, m->end()));
        } else if (op == 'G' || op == 'W') {
          const std::string key = m->substr(1);
          local_.wait({key}, timeout_);
          reply = "+";
          if (op == 'G') {
            std::vector<char> v = local_.get(key);
            reply.append(v.data(), v.size());
          }
        } else {
          return Fail(InvalidArgument(std::string("unknown rendezvous request '") + op + "'"));
        }
      } catch (const std::exception& e) {
        reply = std::string("!") + e.what();
      }
      if (Status st = channel_.SendMessage(peer, reply); !st.ok()) return Fail(st);
    }
  }

  void Fail(const Status& st) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = st.WithContext("rendezvous store");
  }

  HostChannel& channel_;
  const std::chrono::milliseconds timeout_;
  gloo::rendezvous::HashStore local_;  // rank 0 only; thread-safe
  std::vector<std::thread> servers_;
  std::mutex mu_;
  Status error_;  // GUARDED_BY(mu_)
};

void SumFloats(void* c, const void* a, const void* b, size_t n) {
  auto* out = static_cast<float*>(c);
  const auto* x = static_cast<const float*>(a);
  const auto* y = static_cast<const float*>(b);
  for (size_t i = 0; i < n; ++i) out[i] = x[i] + y[i];
}

}  // namespace

GlooCommunicator::GlooCommunicator(std::unique_ptr<HostChannel> channel,
                                   std::shared_ptr<gloo::Context> context,
                                   const GlooCommOptions& options)
    : channel_(std::move(channel)),
      context_(std::move(context)),
      options_(options),
      rank_(channel_->rank()),
      size_(channel_->size()) {}

GlooCommunicator::~GlooCommunicator() = default;

Result<std::unique_ptr<GlooCommunicator>> GlooCommunicator::Create(
    std::unique_ptr<HostChannel> channel, const GlooCommOptions& options) {
  const int rank = channel->rank(), size = channel->size();
  std::shared_ptr<gloo::rendezvous::Context> context;
  std::string error;
  {
    ChannelStore store(*channel, options.io_timeout);
    try {
      gloo::transport::tcp::attr attr;
      attr.hostname = channel->local_address();
      attr.ai_family = AF_INET;
      std::shared_ptr<gloo::transport::Device> device = gloo::transport::tcp::CreateDevice(attr);
      context = std::make_shared<gloo::rendezvous::Context>(rank, size);
      context->setTimeout(options.io_timeout);
      context->connectFullMesh(store, device);
    } catch (const std::exception& e) {
      error = e.what();
      context.reset();
    }
    if (!error.empty() && rank == 0) {
      // The peers may still wait on the store: close the channel under them.
      channel->Shutdown();
    }
    if (Status st = store.Finish(); !st.ok() && error.empty()) error = st.ToString();
  }
  if (!error.empty()) {
    return Unavailable("tensor-parallel rank " + std::to_string(rank) +
                       ": connecting the Gloo mesh on " + channel->local_address() + ": " + error);
  }
  SJ_RETURN_IF_ERROR(channel->Barrier().WithContext("after connecting the Gloo mesh"));
  return std::unique_ptr<GlooCommunicator>(
      new GlooCommunicator(std::move(channel), std::move(context), options));
}

Status GlooCommunicator::AllReduceSum(float* data, int64_t n) {
  if (size_ == 1 || n == 0) return Status::Ok();
  try {
    gloo::AllreduceOptions opts(context_);
    opts.setOutput(data, static_cast<size_t>(n));
    opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
    opts.setReduceFunction(&SumFloats);
    opts.setTag(tag_++);
    opts.setTimeout(options_.io_timeout);
    gloo::allreduce(opts);
  } catch (const std::exception& e) {
    Status peers = channel_->CheckPeers();
    return Unavailable(std::string("tensor-parallel all-reduce (Gloo): ") + e.what() +
                       (peers.ok() ? "" : "; " + peers.message()));
  }
  return Status::Ok();
}

Status GlooCommunicator::AllGather(const float* in, int64_t n, float* out) {
  if (size_ == 1 || n == 0) {
    if (n > 0 && out != in) std::memmove(out, in, static_cast<size_t>(n) * sizeof(float));
    return Status::Ok();
  }
  try {
    gloo::AllgatherOptions opts(context_);
    opts.setInput(const_cast<float*>(in), static_cast<size_t>(n));
    opts.setOutput(out, static_cast<size_t>(n) * static_cast<size_t>(size_));
    opts.setTag(tag_++);
    opts.setTimeout(options_.io_timeout);
    gloo::allgather(opts);
  } catch (const std::exception& e) {
    Status peers = channel_->CheckPeers();
    return Unavailable(std::string("tensor-parallel all-gather (Gloo): ") + e.what() +
                       (peers.ok() ? "" : "; " + peers.message()));
  }
  return Status::Ok();
}

}  // namespace skipjoin::worker
