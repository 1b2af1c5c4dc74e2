#include "coordinator/frontend/sse.h"

namespace skipjoin::frontend {

std::string SseFrame(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  out += "data: ";
  for (char c : payload) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  out += "\n\n";
  return out;
}

}  // namespace skipjoin::frontend
