// When launch calls a node without the coordinator healthy (client/node_health.h).
#include "client/node_health.h"

#include <gtest/gtest.h>

namespace skipjoin::cli {
namespace {

using protocol::WorkerStatus;

// replica-0: tp=3 over w1 (ranks 0, 1) and w2 (rank 2); replica-1: tp=1 on w2.
protocol::StatusReply Cluster() {
  protocol::StatusReply s;
  s.replicas.resize(2);
  s.replicas[0].name = "replica-0";
  s.replicas[1].name = "replica-1";
  s.workers = {WorkerStatus{0, 0, "w1", "10.0.0.2", "cpu:0", true, true},
               WorkerStatus{0, 1, "w1", "10.0.0.2", "cpu:1", true, false},
               WorkerStatus{0, 2, "w2", "10.0.0.3", "cpu:0", false, false},
               WorkerStatus{1, 0, "w2", "10.0.0.3", "cpu:1", true, true}};
  return s;
}

TEST(NodeHealthTest, ANodeIsHealthyWhenEveryRankOnItIsReady) {
  protocol::StatusReply s = Cluster();
  NodeWorkers w1 = NodeWorkersIn(s, "w1");
  EXPECT_EQ(w1.total, 2);
  EXPECT_EQ(w1.ready, 1);
  EXPECT_FALSE(w1.healthy());
  EXPECT_EQ(DescribeNodeWorkers(w1, "w1"),
            "1 of 2 workers of node 'w1' ready; waiting for replica-0 rank 1 (cpu:1): registered");
  NodeWorkers w2 = NodeWorkersIn(s, "w2");
  EXPECT_FALSE(w2.healthy());  // another replica being live does not count
  EXPECT_EQ(DescribeNodeWorkers(w2, "w2"),
            "1 of 2 workers of node 'w2' ready; waiting for replica-0 rank 2 (cpu:0): missing");
  s.workers[1].ready = true;
  EXPECT_TRUE(NodeWorkersIn(s, "w1").healthy());
  EXPECT_EQ(DescribeNodeWorkers(NodeWorkersIn(s, "w1"), "w1"), "2 of 2 workers of node 'w1' ready");
}

TEST(NodeHealthTest, ANodeWithoutRanksIsHealthyOnceTheCoordinatorAnswers) {
  NodeWorkers idle = NodeWorkersIn(Cluster(), "spare");
  EXPECT_EQ(idle.total, 0);
  EXPECT_TRUE(idle.healthy());
}

}  // namespace
}  // namespace skipjoin::cli
