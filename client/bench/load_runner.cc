#include "client/bench/load_runner.h"

#include <boost/asio/steady_timer.hpp>
#include <deque>

#include "client/bench/progress.h"

namespace skipjoin::bench {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// The state of one run; lives on the stack of RunLoad, touched only by the
// io thread.
class LoadRunner {
 public:
  LoadRunner(boost::asio::io_context& io, const HttpTarget& target,
             const std::vector<LoadRequest>& requests, const LoadOptions& options)
      : io_(io),
        target_(target),
        requests_(requests),
        options_(options),
        arrival_timer_(io),
        progress_timer_(io),
        progress_(static_cast<int64_t>(requests.size()), options.progress) {
    SJ_CHECK(options.arrivals_s.size() == requests.size())
        << options.arrivals_s.size() << " arrival times for " << requests.size() << " requests";
  }

  LoadResult Run() {
    LoadResult result;
    records_.resize(requests_.size());
    start_ = end_ = Clock::now();
    if (!requests_.empty()) {
      Arrive();
      if (progress_.interactive()) {
        progress_.Update(0, 0, 0.0);
        Tick();
      }
    }
    io_.restart();
    io_.run();
    result.duration_s = Seconds(end_ - start_);
    progress_.Finish(ended_, failed_, result.duration_s);
    result.records = std::move(records_);
    return result;
  }

 private:
  // Queues every request whose time has come, starts what the concurrency
  // limit allows, and sleeps until the next arrival.
  void Arrive() {
    const double now = Seconds(Clock::now() - start_);
    while (next_ < requests_.size() && options_.arrivals_s[next_] <= now)
      waiting_.push_back(next_++);
    StartWaiting();
    if (next_ == requests_.size()) return;
    arrival_timer_.expires_at(start_ +
                              std::chrono::duration_cast<Clock::duration>(
                                  std::chrono::duration<double>(options_.arrivals_s[next_])));
    arrival_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Arrive();
    });
  }

  void StartWaiting() {
    while (!waiting_.empty() &&
           (options_.max_concurrency <= 0 || in_flight_ < options_.max_concurrency)) {
      const size_t i = waiting_.front();
      waiting_.pop_front();
      ++in_flight_;
      StreamRequestSpec spec;
      spec.path = options_.path;
      spec.body = requests_[i].body;
      spec.flavor = options_.flavor;
      spec.timeout = options_.timeout;
      spec.record.index = static_cast<int64_t>(i);
      spec.record.input_len = requests_[i].input_len;
      spec.record.output_len_asked = requests_[i].output_len;
      spec.bench_start = start_;
      StartStreamRequest(io_, target_, std::move(spec),
                         [this](RequestRecord r) { OnEnded(std::move(r)); });
    }
  }

  void OnEnded(RequestRecord r) {
    --in_flight_;
    ++ended_;
    if (!r.success) ++failed_;
    end_ = Clock::now();
    const auto index = static_cast<size_t>(r.index);
    records_[index] = std::move(r);
    if (ended_ == static_cast<int64_t>(requests_.size())) {
      progress_timer_.cancel();
      return;
    }
    progress_.Update(ended_, failed_, Seconds(end_ - start_));
    StartWaiting();
  }

  // Redraws the bar once a second so the elapsed time moves between ends.
  void Tick() {
    progress_timer_.expires_after(std::chrono::seconds(1));
    progress_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || ended_ == static_cast<int64_t>(requests_.size())) return;
      progress_.Update(ended_, failed_, Seconds(Clock::now() - start_));
      Tick();
    });
  }

  boost::asio::io_context& io_;
  const HttpTarget& target_;
  const std::vector<LoadRequest>& requests_;
  const LoadOptions& options_;
  boost::asio::steady_timer arrival_timer_;
  boost::asio::steady_timer progress_timer_;
  ProgressBar progress_;
  Clock::time_point start_, end_;
  std::vector<RequestRecord> records_;
  std::deque<size_t> waiting_;  // arrived, waiting for a concurrency slot
  size_t next_ = 0;             // the next request to arrive
  int64_t in_flight_ = 0;
  int64_t ended_ = 0;
  int64_t failed_ = 0;
};

}  // namespace

LoadResult RunLoad(boost::asio::io_context& io, const HttpTarget& target,
                   const std::vector<LoadRequest>& requests, const LoadOptions& options) {
  return LoadRunner(io, target, requests, options).Run();
}

}  // namespace skipjoin::bench
