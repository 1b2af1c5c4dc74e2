// SseDecoder: splits a text/event-stream body, as it arrives in arbitrary
// pieces, into the data payloads of its events ("data: ..." lines up to a
// blank line; several data lines join with '\n'; comments and other fields
// are skipped). Lines may end in "\n" or "\r\n". Owned by one request; not
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace skipjoin::bench {

class SseDecoder {
 public:
  // An event or line beyond this is an error rather than unbounded memory.
  static constexpr size_t kMaxEventBytes = 64u << 20;

  // Consumes bytes and appends each event completed by them to *events.
  Status Feed(std::string_view bytes, std::vector<std::string>* events);
  // End of the body: a last event that lacked its blank line still counts.
  void Finish(std::vector<std::string>* events);

 private:
  void EndLine(std::vector<std::string>* events);

  std::string line_;  // the current, unterminated line
  std::string data_;  // the current event's data so far
  bool has_data_ = false;
};

}  // namespace skipjoin::bench
