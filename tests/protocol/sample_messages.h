// Sample protocol messages for tests and fuzz seeds: one instance of every
// message type (both SubmitRequest prompt forms), with every field away from
// its default so that a round trip that drops a field is caught.
// Pure functions; any thread.
#pragma once

#include <vector>

#include "protocol/messages.h"

namespace skipjoin::protocol {

std::vector<Message> OneOfEveryMessage();

}  // namespace skipjoin::protocol
