// Internal to skipjoin_grammar: the runtime state of a match, a set of rule
// stacks over an Automaton. A stack is a persistent linked list of frames (a
// DFA state, the caller's frame below it) interned in an arena, so two stacks
// that are equal have the same id and steps share their tails.
//
// A set holds only stacks whose top state consumes bytes, plus `accept` when
// some path has ended the root rule (the text so far is a complete match).
//
// Bounds (documented in grammar.h): a stack deeper than kMaxStackDepth and
// the stacks of a set beyond kMaxStacks are dropped.
//
// Scratch mode (mask computation): frames made between BeginScratch and
// EndScratch are forgotten by EndScratch, so exploring a vocabulary does not
// grow the arena. Sets made in scratch mode must not outlive it.
// Not thread-safe: one owner (a Matcher or one Matches call).
#pragma once

#include <cstdint>
#include <vector>

#include "common/grammar/automaton.h"

namespace skipjoin::grammar::internal {

inline constexpr uint32_t kMaxStackDepth = 1024;
inline constexpr size_t kMaxStacks = 256;
inline constexpr uint32_t kNoFrame = UINT32_MAX;

struct StackSet {
  std::vector<uint32_t> tops;  // frame ids
  bool accept = false;
  bool empty() const { return tops.empty() && !accept; }
  void clear() {
    tops.clear();
    accept = false;
  }
};

class StackEngine {
 public:
  explicit StackEngine(const Automaton* automaton);

  // The set at the start of the text.
  void Initial(StackSet* out);
  // out := the set after byte b; false when out is empty (b is not allowed).
  bool Step(const StackSet& in, uint8_t b, StackSet* out);
  // out := the set after the rule on top of `frame` ends (its caller resumes).
  void Pop(uint32_t frame, StackSet* out);

  uint32_t state(uint32_t frame) const { return frames_[frame].state; }
  const Automaton& automaton() const { return *a_; }

  void BeginScratch();
  void EndScratch();

 private:
  struct Frame {
    uint32_t state;
    uint32_t parent;
    uint32_t depth;
  };
  // Open-addressing map (state, parent) -> frame id; clear() costs its use.
  class FrameIndex {
   public:
    uint32_t Find(uint64_t key) const;
    void Insert(uint64_t key, uint32_t id);
    void Clear();
    size_t size() const { return used_.size(); }

   private:
    void Grow();
    std::vector<uint64_t> keys_;
    std::vector<uint32_t> ids_;
    std::vector<uint32_t> used_;  // occupied slots
  };

  uint32_t Intern(uint32_t state, uint32_t parent);
  void Closure(uint32_t frame, StackSet* out);
  void NewStamp();

  const Automaton* a_;
  std::vector<Frame> frames_;
  FrameIndex persistent_;
  FrameIndex scratch_;
  bool in_scratch_ = false;
  size_t persistent_frames_ = 0;
  std::vector<uint32_t> seen_;  // per frame: stamp of the last closure that visited it
  uint32_t stamp_ = 0;
  std::vector<uint32_t> work_;
};

}  // namespace skipjoin::grammar::internal
