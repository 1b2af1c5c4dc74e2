#include "common/grammar/json_grammar.h"

#include "common/grammar/charset.h"

namespace skipjoin::grammar::internal {

ExprId JsonRules::Ws() {
  ByteSet ws;
  for (char c : std::string_view(" \t\n\r")) ws.set(static_cast<uint8_t>(c));
  return b_->Repeat(b_->Bytes(ws), 0, kMaxWhitespace);
}

int32_t JsonRules::QuotedRule(ExprId body, std::string name) {
  const int32_t r = b_->AddRule(std::move(name));
  b_->SetBody(r, b_->Seq({b_->Literal("\""), body, b_->Literal("\"")}));
  return r;
}

int32_t JsonRules::String() {
  if (string_ < 0) string_ = QuotedRule(b_->Star(JsonStringCharExpr(b_)), "json string");
  return string_;
}

int32_t JsonRules::Number(bool integer, bool non_negative) {
  int32_t& memo = number_[integer][non_negative];
  if (memo >= 0) return memo;
  auto digits = [&](int min, int max) { return b_->Repeat(b_->Range('0', '9'), min, max); };
  std::vector<ExprId> parts;
  if (!non_negative) parts.push_back(b_->Optional(b_->Literal("-")));
  parts.push_back(b_->Alt(
      {b_->Literal("0"), b_->Seq({b_->Range('1', '9'), digits(0, kMaxIntegerDigits - 1)})}));
  if (!integer) {
    parts.push_back(b_->Optional(b_->Seq({b_->Literal("."), digits(1, kMaxFractionDigits)})));
    ByteSet e, sign;
    e.set('e');
    e.set('E');
    sign.set('+');
    sign.set('-');
    parts.push_back(b_->Optional(
        b_->Seq({b_->Bytes(e), b_->Optional(b_->Bytes(sign)), digits(1, kMaxExponentDigits)})));
  }
  memo = b_->AddRule(integer ? "json integer" : "json number");
  b_->SetBody(memo, b_->Seq(std::move(parts)));
  return memo;
}

int32_t JsonRules::Boolean() {
  if (boolean_ < 0) {
    boolean_ = b_->AddRule("json boolean");
    b_->SetBody(boolean_, b_->Alt({b_->Literal("true"), b_->Literal("false")}));
  }
  return boolean_;
}

int32_t JsonRules::Null() {
  if (null_ < 0) {
    null_ = b_->AddRule("json null");
    b_->SetBody(null_, b_->Literal("null"));
  }
  return null_;
}

int32_t JsonRules::AnyValue() {
  if (any_value_ >= 0) return any_value_;
  any_value_ = b_->AddRule("any JSON value");
  b_->SetBody(any_value_,
              b_->Alt({b_->Call(AnyObject()), b_->Call(AnyArray()), b_->Call(String()),
                       b_->Call(Number(false, false)), b_->Call(Boolean()), b_->Call(Null())}));
  return any_value_;
}

int32_t JsonRules::AnyObject() {
  if (any_object_ >= 0) return any_object_;
  any_object_ = b_->AddRule("any JSON object");
  const int32_t value = AnyValue();
  auto member = [&] {
    return b_->Seq({b_->Call(String()), Ws(), b_->Literal(":"), Ws(), b_->Call(value)});
  };
  const ExprId more = b_->Star(b_->Seq({Ws(), b_->Literal(","), Ws(), member()}));
  b_->SetBody(any_object_,
              b_->Seq({b_->Literal("{"), Ws(), b_->Optional(b_->Seq({member(), more, Ws()})),
                       b_->Literal("}")}));
  return any_object_;
}

int32_t JsonRules::AnyArray() {
  if (any_array_ >= 0) return any_array_;
  any_array_ = b_->AddRule("any JSON array");
  b_->SetBody(any_array_, Array({}, AnyValue(), 0, kUnbounded));
  return any_array_;
}

ExprId JsonRules::Object(const std::vector<std::string>& keys, const std::vector<int32_t>& values,
                         const std::vector<bool>& required) {
  const size_t n = keys.size();
  auto member = [&](size_t i) {
    return b_->Seq({b_->Literal(keys[i]), Ws(), b_->Literal(":"), Ws(), b_->Call(values[i])});
  };
  // after[i]: the members from i on, once one member has been written.
  std::vector<ExprId> after(n + 1);
  after[n] = b_->Empty();
  for (size_t i = n; i-- > 0;) {
    const ExprId with = b_->Seq({Ws(), b_->Literal(","), Ws(), member(i), after[i + 1]});
    after[i] = required[i] ? with : b_->Alt({with, after[i + 1]});
  }
  // first[i]: at least one member from i on, none written yet; -1 when the
  // members from i on are all optional and none is chosen.
  ExprId first = -1;
  bool all_optional = true;
  for (size_t i = n; i-- > 0;) {
    const ExprId here = b_->Seq({member(i), after[i + 1]});
    if (required[i]) {
      first = here;
      all_optional = false;
    } else {
      first = first < 0 ? here : b_->Alt({here, first});
    }
  }
  std::vector<ExprId> parts = {b_->Literal("{"), Ws()};
  if (first >= 0) {
    const ExprId body = b_->Seq({first, Ws()});
    parts.push_back(all_optional ? b_->Optional(body) : body);
  }
  parts.push_back(b_->Literal("}"));
  return b_->Seq(std::move(parts));
}

ExprId JsonRules::Array(const std::vector<int32_t>& prefix, int32_t items, int32_t min,
                        int32_t max) {
  const int32_t k = static_cast<int32_t>(prefix.size());
  auto element = [&](int32_t i) { return b_->Call(i < k ? prefix[i] : items); };
  auto sep = [&] { return b_->Seq({Ws(), b_->Literal(","), Ws()}); };
  std::vector<ExprId> parts = {b_->Literal("["), Ws()};
  if (max != 0) {
    // Elements below `cap` are spelled out; an unbounded tail repeats items.
    const int32_t cap = max == kUnbounded ? std::max(k, min) : max;
    ExprId tail = b_->Empty();
    if (max == kUnbounded && items >= 0) {
      tail = b_->Star(b_->Seq({sep(), b_->Call(items)}));
    }
    if (cap == 0) {
      // Unbounded, no prefix, no minimum: ( items (sep items)* ws )?
      parts.push_back(b_->Optional(b_->Seq({b_->Call(items), tail, Ws()})));
    } else {
      for (int32_t i = cap - 1; i >= 1; --i) {
        const ExprId with = b_->Seq({sep(), element(i), tail});
        tail = i >= min ? b_->Optional(with) : with;
      }
      const ExprId body = b_->Seq({element(0), tail, Ws()});
      parts.push_back(min == 0 ? b_->Optional(body) : body);
    }
  }
  parts.push_back(b_->Literal("]"));
  return b_->Seq(std::move(parts));
}

}  // namespace skipjoin::grammar::internal
