#include "protocol/messages.h"

namespace skipjoin::protocol {

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kWorkerRegister:
      return "WorkerRegister";
    case MessageType::kModelAssignment:
      return "ModelAssignment";
    case MessageType::kWorkerReady:
      return "WorkerReady";
    case MessageType::kStepPlan:
      return "StepPlan";
    case MessageType::kStepResult:
      return "StepResult";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kShutdown:
      return "Shutdown";
    case MessageType::kErrorReply:
      return "ErrorReply";
    case MessageType::kSubmitRequest:
      return "SubmitRequest";
    case MessageType::kTokenChunk:
      return "TokenChunk";
    case MessageType::kCancelRequest:
      return "CancelRequest";
    case MessageType::kStatusRequest:
      return "StatusRequest";
    case MessageType::kStatusReply:
      return "StatusReply";
    case MessageType::kModelsRequest:
      return "ModelsRequest";
    case MessageType::kModelsReply:
      return "ModelsReply";
  }
  return "unknown";
}

Status ErrorInfo::ToStatus() const {
  if (code <= 0 || code > static_cast<int32_t>(StatusCode::kInternal)) {
    return Internal("peer error with unknown code " + std::to_string(code) + ": " + message);
  }
  return Status(static_cast<StatusCode>(code), message);
}

MessageType TypeOf(const Message& message) {
  return std::visit([](const auto& m) { return std::decay_t<decltype(m)>::kType; }, message);
}

}  // namespace skipjoin::protocol
