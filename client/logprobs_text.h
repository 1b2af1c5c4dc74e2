// How `skipjoin submit --logprobs N` shows the logprobs of a completion: one
// line per generated token with its text, its logprob and the N most likely
// alternatives. Pure functions; any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/messages.h"

namespace skipjoin::cli {

// A token id's text (its raw bytes, as the tokenizer's TokenPiece gives it).
using TokenTextFn = std::function<std::string(int32_t id)>;

// `bytes` as a double-quoted string a terminal shows safely: valid UTF-8 stays,
// quotes and backslashes are escaped, \n \t \r as such, other control bytes and
// bytes that are not UTF-8 (a token may hold part of a character) as \xNN.
std::string QuotedTokenText(std::string_view bytes);

// The table, one line per entry of `logprobs` (a header first):
//       #  token         logprob  alternatives, most likely first
//       0  " Paris"      -0.0213  " Paris" -0.0213 | " the" -4.5120 | " a" -5.0031
// Without `text` (no tokenizer at hand) a token shows as its id, "#1234".
std::string FormatLogprobsTable(const std::vector<protocol::TokenLogprobs>& logprobs,
                                const TokenTextFn& text);

}  // namespace skipjoin::cli
