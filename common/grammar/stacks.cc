#include "common/grammar/stacks.h"

#include <algorithm>

#include "common/status.h"

namespace skipjoin::grammar::internal {
namespace {

constexpr uint64_t kEmptyKey = UINT64_MAX;  // no frame has state and parent both UINT32_MAX

uint64_t Key(uint32_t state, uint32_t parent) { return (uint64_t{state} << 32) | parent; }

size_t Slot(uint64_t key, size_t mask) {
  uint64_t h = key * 0x9E3779B97F4A7C15ull;
  return static_cast<size_t>(h >> 20) & mask;
}

}  // namespace

uint32_t StackEngine::FrameIndex::Find(uint64_t key) const {
  if (keys_.empty()) return kNoFrame;
  const size_t mask = keys_.size() - 1;
  for (size_t i = Slot(key, mask);; i = (i + 1) & mask) {
    if (keys_[i] == key) return ids_[i];
    if (keys_[i] == kEmptyKey) return kNoFrame;
  }
}

void StackEngine::FrameIndex::Insert(uint64_t key, uint32_t id) {
  if ((used_.size() + 1) * 2 > keys_.size()) Grow();
  const size_t mask = keys_.size() - 1;
  size_t i = Slot(key, mask);
  while (keys_[i] != kEmptyKey) i = (i + 1) & mask;
  keys_[i] = key;
  ids_[i] = id;
  used_.push_back(static_cast<uint32_t>(i));
}

void StackEngine::FrameIndex::Grow() {
  std::vector<uint64_t> old_keys = std::move(keys_);
  std::vector<uint32_t> old_ids = std::move(ids_);
  const size_t cap = std::max<size_t>(64, old_keys.size() * 2);
  keys_.assign(cap, kEmptyKey);
  ids_.assign(cap, 0);
  used_.clear();
  for (size_t i = 0; i < old_keys.size(); ++i) {
    if (old_keys[i] != kEmptyKey) Insert(old_keys[i], old_ids[i]);
  }
}

void StackEngine::FrameIndex::Clear() {
  for (uint32_t i : used_) keys_[i] = kEmptyKey;
  used_.clear();
}

StackEngine::StackEngine(const Automaton* automaton) : a_(automaton) {}

uint32_t StackEngine::Intern(uint32_t state, uint32_t parent) {
  const uint64_t key = Key(state, parent);
  uint32_t id = persistent_.Find(key);
  if (id != kNoFrame) return id;
  if (in_scratch_) {
    id = scratch_.Find(key);
    if (id != kNoFrame) return id;
  }
  id = static_cast<uint32_t>(frames_.size());
  const uint32_t depth = parent == kNoFrame ? 1 : frames_[parent].depth + 1;
  frames_.push_back({state, parent, depth});
  (in_scratch_ ? scratch_ : persistent_).Insert(key, id);
  return id;
}

void StackEngine::NewStamp() {
  if (seen_.size() < frames_.size() + 64) seen_.resize(frames_.size() * 2 + 64, 0);
  if (++stamp_ == 0) {
    std::fill(seen_.begin(), seen_.end(), 0);
    stamp_ = 1;
  }
}

void StackEngine::Closure(uint32_t start, StackSet* out) {
  work_.clear();
  work_.push_back(start);
  while (!work_.empty()) {
    const uint32_t f = work_.back();
    work_.pop_back();
    if (f >= seen_.size()) seen_.resize(frames_.size() * 2 + 64, 0);
    if (seen_[f] == stamp_) continue;
    seen_[f] = stamp_;
    const Frame frame = frames_[f];
    const DfaState& st = a_->states[frame.state];
    if (a_->HasBytes(frame.state) && out->tops.size() < kMaxStacks) out->tops.push_back(f);
    if (frame.depth < kMaxStackDepth) {
      for (uint32_t c = st.call_begin; c < st.call_end; ++c) {
        const CallEdge& call = a_->calls[c];
        const uint32_t ret = Intern(call.return_state, frame.parent);
        work_.push_back(Intern(call.callee_start, ret));
      }
    }
    if (st.accepting) {
      if (frame.parent == kNoFrame) {
        out->accept = true;
      } else {
        work_.push_back(frame.parent);
      }
    }
  }
}

void StackEngine::Initial(StackSet* out) {
  out->clear();
  NewStamp();
  Closure(Intern(a_->rule_start[a_->root_rule], kNoFrame), out);
}

bool StackEngine::Step(const StackSet& in, uint8_t b, StackSet* out) {
  out->clear();
  NewStamp();
  for (uint32_t f : in.tops) {
    const int64_t next = a_->Next(frames_[f].state, b);
    if (next < 0) continue;
    Closure(Intern(static_cast<uint32_t>(next), frames_[f].parent), out);
  }
  return !out->empty();
}

void StackEngine::Pop(uint32_t frame, StackSet* out) {
  out->clear();
  NewStamp();
  const uint32_t parent = frames_[frame].parent;
  if (parent == kNoFrame) {
    out->accept = true;
  } else {
    Closure(parent, out);
  }
}

void StackEngine::BeginScratch() {
  SJ_CHECK(!in_scratch_) << "nested scratch";
  in_scratch_ = true;
  persistent_frames_ = frames_.size();
}

void StackEngine::EndScratch() {
  SJ_CHECK(in_scratch_) << "EndScratch without BeginScratch";
  in_scratch_ = false;
  frames_.resize(persistent_frames_);
  scratch_.Clear();
}

}  // namespace skipjoin::grammar::internal
