// The one Mailbox: blocking Pop for a plain actor thread, fd + PopAll for an
// actor that polls sockets, and Close for both.
#include "common/mailbox.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <thread>

namespace skipjoin {
namespace {

bool Readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

TEST(MailboxTest, PopBlocksUntilAnotherThreadPushes) {
  Mailbox<int> m;
  std::thread producer([&] {
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(m.Push(i));
  });
  for (int i = 0; i < 1000; ++i) {
    std::optional<int> v = m.Pop();
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, i);
  }
  producer.join();
  EXPECT_FALSE(m.TryPop().has_value());
}

TEST(MailboxTest, FdIsReadableWhileItemsWaitAndPopAllResetsIt) {
  Mailbox<int> m;
  EXPECT_FALSE(Readable(m.fd(), 0));
  m.Push(1);
  m.Push(2);
  ASSERT_TRUE(Readable(m.fd(), 1000));
  std::deque<int> all = m.PopAll();
  EXPECT_EQ(all, (std::deque<int>{1, 2}));
  EXPECT_FALSE(Readable(m.fd(), 0));
  std::thread producer([&] { m.Push(3); });
  ASSERT_TRUE(Readable(m.fd(), 5000));
  producer.join();
  EXPECT_EQ(m.PopAll(), std::deque<int>{3});
}

TEST(MailboxTest, CloseWakesEveryWaiterRefusesPushesAndKeepsWhatIsLeft) {
  Mailbox<int> m;
  m.Push(7);
  std::optional<int> after_drain = 0;
  std::thread waiter([&] {
    EXPECT_EQ(m.Pop(), std::optional<int>(7));
    after_drain = m.Pop();  // blocks until Close
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  m.Close();
  waiter.join();
  EXPECT_FALSE(after_drain.has_value());
  EXPECT_FALSE(m.Push(8));
  EXPECT_TRUE(Readable(m.fd(), 0));  // a polling owner wakes too
  EXPECT_TRUE(m.PopAll().empty());
}

}  // namespace
}  // namespace skipjoin
