// UTF-8 encoding and decoding shared by the tokenizer and the grammar engine.
// Pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace skipjoin {

// Appends the UTF-8 encoding of cp (at most U+10FFFF; the caller decides
// what to do with surrogates).
void AppendUtf8(uint32_t cp, std::string* out);

// Decodes the character at text[*pos] and advances *pos past it; -1 (and
// *pos unchanged) when the bytes there are not a well-formed sequence.
int32_t DecodeUtf8At(std::string_view text, size_t* pos);

}  // namespace skipjoin
