#include "coordinator/frontend/generation_response.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/status.h"
#include "coordinator/frontend/sse.h"

namespace skipjoin::frontend {

namespace {

using nlohmann::json;
using server::SequenceEvent;

// Token texts may hold partial UTF-8 characters: replace instead of throwing.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json Bytes(const std::string& piece) {
  json b = json::array();
  for (unsigned char c : piece) b.push_back(static_cast<int>(c));
  return b;
}

const char* FinishName(protocol::FinishReason r) {
  return r == protocol::FinishReason::kLength ? "length" : "stop";
}

}  // namespace

GenerationResponse::GenerationResponse(ApiRequest request, const Tokenizer& tokenizer,
                                       ResponseContext context,
                                       std::vector<server::RequestId> seq_ids)
    : request_(std::move(request)), tokenizer_(tokenizer), ctx_(std::move(context)) {
  const size_t n = static_cast<size_t>(std::max(1, request_.n));
  SJ_CHECK(seq_ids.size() == n * ctx_.prompts.size())
      << seq_ids.size() << " requests for " << ctx_.prompts.size() << " prompts, n=" << n;
  choices_.resize(seq_ids.size());
  for (size_t i = 0; i < seq_ids.size(); ++i) {
    choices_[i].seq_id = seq_ids[i];
    choices_[i].prompt = i / n;
    choices_[i].text = std::make_unique<ChoiceTextStream>(
        tokenizer_,
        StopOptions{request_.stop, request_.include_stop_str_in_output, request_.min_tokens});
  }
}

int GenerationResponse::FindChoice(server::RequestId id) const {
  for (size_t i = 0; i < choices_.size(); ++i) {
    if (choices_[i].seq_id == id) return static_cast<int>(i);
  }
  return -1;
}

std::vector<server::RequestId> GenerationResponse::LiveSequences() const {
  std::vector<server::RequestId> ids;
  for (const Choice& c : choices_) {
    if (!c.done) ids.push_back(c.seq_id);
  }
  return ids;
}

std::string GenerationResponse::LogprobToken(int32_t token) const {
  if (request_.return_tokens_as_token_ids) return "token_id:" + std::to_string(token);
  return tokenizer_.TokenPiece(token);
}

json GenerationResponse::LogprobsJson(int index, size_t lp_begin, size_t lp_end,
                                      bool with_prompt) const {
  const Choice& c = choices_[index];
  const bool chat = request_.kind == ApiKind::kChat;
  json logprobs = nullptr;
  if (request_.logprobs && (lp_end > lp_begin || with_prompt)) {
    if (chat) {
      json content = json::array();
      for (size_t t = lp_begin; t < lp_end; ++t) {
        const std::string piece = LogprobToken(c.tokens[t]);
        json top = json::array();
        for (const protocol::TokenLogprob& alt : c.tops[t]) {
          const std::string p = LogprobToken(alt.token);
          top.push_back({{"token", p}, {"logprob", alt.logprob}, {"bytes", Bytes(p)}});
        }
        content.push_back({{"token", piece},
                           {"logprob", c.logprobs[t]},
                           {"bytes", Bytes(piece)},
                           {"top_logprobs", top}});
      }
      logprobs = {{"content", content}};
    } else {
      json tokens = json::array(), token_logprobs = json::array(), tops = json::array(),
           offsets = json::array();
      size_t offset = 0;  // the prompt's, from the start of the text
      if (with_prompt) {
        const std::vector<int32_t>& prompt_ids = PromptOf(c).ids;
        for (size_t p = 0; p < prompt_ids.size(); ++p) {
          tokens.push_back(LogprobToken(prompt_ids[p]));
          if (p == 0 || p - 1 >= c.prompt_logprobs.size()) {
            token_logprobs.push_back(nullptr);
          } else {
            token_logprobs.push_back(c.prompt_logprobs[p - 1]);
          }
          tops.push_back(nullptr);
          offsets.push_back(offset);
          offset += tokenizer_.TokenPiece(prompt_ids[p]).size();
        }
      }
      for (size_t t = lp_begin; t < lp_end; ++t) {
        tokens.push_back(LogprobToken(c.tokens[t]));
        token_logprobs.push_back(c.logprobs[t]);
        json top = json::object();
        for (const protocol::TokenLogprob& alt : c.tops[t])
          top[LogprobToken(alt.token)] = alt.logprob;
        tops.push_back(top);
        offsets.push_back(c.text_offsets[t]);
      }
      logprobs = {{"tokens", tokens},
                  {"token_logprobs", token_logprobs},
                  {"top_logprobs", tops},
                  {"text_offset", offsets}};
    }
  }
  return logprobs;
}

std::string GenerationResponse::ChunkJson(int index, const std::string& text, bool role,
                                          const char* finish, size_t lp_begin, size_t lp_end,
                                          bool with_prompt) const {
  json choice;
  choice["index"] = index;
  const bool chat = request_.kind == ApiKind::kChat;
  json logprobs = LogprobsJson(index, lp_begin, lp_end, with_prompt);
  if (chat) {
    json delta = json::object();
    if (role) delta["role"] = "assistant";
    if (role || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs;
  choice["finish_reason"] = finish == nullptr ? json(nullptr) : json(finish);
  json chunk = {{"id", ctx_.id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", ctx_.created},
                {"model", ctx_.model},
                {"choices", json::array({choice})}};
  return SseFrame(Dump(chunk));
}

int64_t GenerationResponse::PromptTokens() const {
  int64_t tokens = 0;
  for (const TokenizedPrompt& p : ctx_.prompts) tokens += static_cast<int64_t>(p.ids.size());
  return tokens;
}

std::string GenerationResponse::UsageChunk() const {
  int64_t completion = 0;
  for (const Choice& c : choices_) completion += c.completion_tokens;
  const int64_t prompt = PromptTokens();
  json chunk = {
      {"id", ctx_.id},
      {"object", request_.kind == ApiKind::kChat ? "chat.completion.chunk" : "text_completion"},
      {"created", ctx_.created},
      {"model", ctx_.model},
      {"choices", json::array()},
      {"usage",
       {{"prompt_tokens", prompt},
        {"completion_tokens", completion},
        {"total_tokens", prompt + completion}}}};
  return SseFrame(Dump(chunk));
}

void GenerationResponse::EndWithPromptOnly(int index, const SequenceEvent& e, std::string* out) {
  Choice& c = choices_[index];
  c.began = true;
  c.prompt_logprobs = e.prompt_logprobs;
  if (request_.stream) {
    *out += ChunkJson(index, PromptOf(c).text, /*role=*/false, nullptr, 0, 0,
                      /*with_prompt=*/true);
  }
  EndChoice(index, "length", out);
}

void GenerationResponse::HandleToken(int index, const SequenceEvent& e, std::string* out) {
  Choice& c = choices_[index];
  if (c.done) return;
  if (request_.max_tokens == 0) return EndWithPromptOnly(index, e, out);
  const bool first = !c.began;
  c.began = true;
  if (first && !e.prompt_logprobs.empty()) c.prompt_logprobs = e.prompt_logprobs;
  ++c.completion_tokens;
  const size_t lp_begin = c.tokens.size();
  if (request_.logprobs) {
    if (first && request_.echo && request_.kind == ApiKind::kCompletion) {
      for (int32_t id : PromptOf(c).ids) c.next_text_offset += tokenizer_.TokenPiece(id).size();
    }
    c.text_offsets.push_back(c.next_text_offset);
    c.next_text_offset += tokenizer_.TokenPiece(e.token).size();
    c.tokens.push_back(e.token);
    c.logprobs.push_back(e.logprob);
    std::vector<protocol::TokenLogprob> top = e.top;
    if (top.size() > static_cast<size_t>(request_.top_logprobs)) top.resize(request_.top_logprobs);
    c.tops.push_back(std::move(top));
  }
  std::string text = c.text->Push(e.token);
  const bool stopped = c.text->stopped();
  if (request_.stream) {
    std::string lead;
    if (first && request_.echo && request_.kind == ApiKind::kCompletion) lead = PromptOf(c).text;
    const bool role = first && request_.kind == ApiKind::kChat;
    const bool with_prompt = first && request_.echo && request_.kind == ApiKind::kCompletion;
    if (!text.empty() || !lead.empty() || role ||
        (request_.logprobs && c.tokens.size() > lp_begin)) {
      *out += ChunkJson(index, lead + text, role, nullptr, lp_begin, c.tokens.size(), with_prompt);
    }
  } else {
    c.full_text += text;
  }
  if (stopped) EndChoice(index, "stop", out);
}

void GenerationResponse::EndChoice(int index, const char* reason, std::string* out) {
  Choice& c = choices_[index];
  if (c.done) return;
  std::string rest = c.text->stopped() ? "" : c.text->Flush();
  if (c.text->stopped()) reason = "stop";
  c.done = true;
  c.finish_reason = reason;
  if (request_.stream) {
    const bool role = !c.began && request_.kind == ApiKind::kChat;
    c.began = true;
    *out += ChunkJson(index, rest, role, reason, c.tokens.size(), c.tokens.size(), false);
  } else {
    c.full_text += rest;
  }
}

GenerationResponse::Update GenerationResponse::OnEvents(const std::vector<SequenceEvent>& events,
                                                        bool stream_started) {
  Update u;
  if (done_) return u;
  for (const SequenceEvent& e : events) {
    const int index = FindChoice(e.id);
    if (index < 0 || choices_[index].done) continue;
    switch (e.kind) {
      case SequenceEvent::Kind::kToken:
        HandleToken(index, e, &u.data);
        if (choices_[index].done) u.finish.push_back(e.id);
        break;
      case SequenceEvent::Kind::kFinished:
        EndChoice(index, FinishName(e.finish), &u.data);
        break;
      case SequenceEvent::Kind::kError: {
        choices_[index].done = true;
        u.cancel = LiveSequences();
        for (Choice& c : choices_) c.done = true;
        done_ = true;
        u.done = true;
        u.error = ErrorFromStatus(e.error);
        if (request_.stream && (stream_started || !u.data.empty())) {
          u.data += SseFrame(ErrorBody(*u.error));
          u.data += SseDone();
        } else {
          u.data.clear();
        }
        return u;
      }
    }
  }
  bool all = true;
  for (const Choice& c : choices_) all = all && c.done;
  if (all) {
    done_ = true;
    u.done = true;
    if (request_.stream) {
      if (request_.include_usage) u.data += UsageChunk();
      u.data += SseDone();
    } else {
      u.data = FinalBody();
    }
  }
  return u;
}

std::string GenerationResponse::LogSummary() const {
  int64_t completion = 0;
  std::string finish;
  for (const Choice& c : choices_) {
    completion += c.completion_tokens;
    if (!finish.empty()) finish += ",";
    finish += c.finish_reason != nullptr ? c.finish_reason : (c.done ? "error" : "none");
  }
  std::string out;
  if (!request_.user.empty()) out += "user=" + json(request_.user).dump() + " ";
  out += "prompt_tokens=" + std::to_string(PromptTokens()) +
         " completion_tokens=" + std::to_string(completion) + " finish=" + finish;
  return out;
}

std::string GenerationResponse::FinalBody() const {
  const bool chat = request_.kind == ApiKind::kChat;
  json choices = json::array();
  int64_t completion = 0;
  for (size_t i = 0; i < choices_.size(); ++i) {
    const Choice& c = choices_[i];
    completion += c.completion_tokens;
    json choice;
    choice["index"] = i;
    json logprobs = LogprobsJson(static_cast<int>(i), 0, c.tokens.size(), request_.echo && !chat);
    if (chat) {
      choice["message"] = {{"role", "assistant"}, {"content", c.full_text}};
    } else {
      choice["text"] = request_.echo ? PromptOf(c).text + c.full_text : c.full_text;
    }
    choice["logprobs"] = logprobs;
    choice["finish_reason"] = c.finish_reason == nullptr ? json(nullptr) : json(c.finish_reason);
    choices.push_back(std::move(choice));
  }
  const int64_t prompt = PromptTokens();
  json body = {{"id", ctx_.id},
               {"object", chat ? "chat.completion" : "text_completion"},
               {"created", ctx_.created},
               {"model", ctx_.model},
               {"choices", choices},
               {"usage",
                {{"prompt_tokens", prompt},
                 {"completion_tokens", completion},
                 {"total_tokens", prompt + completion}}}};
  return Dump(body);
}

}  // namespace skipjoin::frontend
