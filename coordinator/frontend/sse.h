// Server-sent events framing as the OpenAI streaming API uses it: one
// `data: <json>\n\n` frame per chunk and a final `data: [DONE]\n\n`.
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace skipjoin::frontend {

// `payload` must not contain a newline (compact JSON never does); any that
// slip in are escaped so a frame can never be split.
std::string SseFrame(std::string_view payload);
inline std::string SseDone() { return "data: [DONE]\n\n"; }

}  // namespace skipjoin::frontend
