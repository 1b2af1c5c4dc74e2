#include "client/bench/sse_decoder.h"

namespace skipjoin::bench {

Status SseDecoder::Feed(std::string_view bytes, std::vector<std::string>* events) {
  while (!bytes.empty()) {
    const size_t nl = bytes.find('\n');
    if (nl == std::string_view::npos) {
      line_.append(bytes);
      break;
    }
    line_.append(bytes.substr(0, nl));
    bytes.remove_prefix(nl + 1);
    EndLine(events);
  }
  if (line_.size() + data_.size() > kMaxEventBytes) {
    return DataLoss("a server-sent event is larger than " + std::to_string(kMaxEventBytes >> 20) +
                    " MiB");
  }
  return Status::Ok();
}

void SseDecoder::EndLine(std::vector<std::string>* events) {
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  if (line_.empty()) {
    if (has_data_) events->push_back(std::move(data_));
    data_.clear();
    has_data_ = false;
  } else if (line_.rfind("data:", 0) == 0) {
    std::string_view value(line_);
    value.remove_prefix(5);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  }
  // Comments (":...") and the event / id / retry fields carry nothing here.
  line_.clear();
}

void SseDecoder::Finish(std::vector<std::string>* events) {
  if (!line_.empty()) EndLine(events);
  if (has_data_) events->push_back(std::move(data_));
  data_.clear();
  has_data_ = false;
}

}  // namespace skipjoin::bench
