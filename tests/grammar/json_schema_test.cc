// Byte-level acceptance of the JSON Schema subset (grammar.h
// CompileJsonSchema) and of json_object mode.
#include <gtest/gtest.h>

#include "common/grammar/grammar.h"

namespace skipjoin::grammar {
namespace {

GrammarPtr Schema(std::string_view schema) {
  auto g = CompileJsonSchema(schema);
  EXPECT_TRUE(g.ok()) << schema << ": " << g.status().ToString();
  return g.ok() ? *g : nullptr;
}

TEST(JsonSchemaTest, ScalarTypes) {
  auto s = Schema(R"({"type": "string"})");
  EXPECT_TRUE(s->Matches(R"("hi")"));
  EXPECT_TRUE(s->Matches(R"("a\"b\\c\n\u00e9\ud83d\ude00")"));
  EXPECT_TRUE(s->Matches("\"caf\xC3\xA9\""));
  EXPECT_FALSE(s->Matches("\"caf\xC3\""));  // truncated UTF-8
  EXPECT_FALSE(s->Matches("\"a\nb\""));     // raw control character
  EXPECT_FALSE(s->Matches(R"("\ud83d")"));  // lone surrogate
  EXPECT_FALSE(s->Matches(R"("\x")"));
  EXPECT_FALSE(s->Matches("hi"));
  auto n = Schema(R"({"type": "number"})");
  for (const char* ok : {"0", "-1", "3.25", "1e10", "-2.5E-3", "12345678901234567890"}) {
    (void)ok;
  }
  for (const char* ok : {"0", "-1", "3.25", "1e10", "-2.5E-3", "1234567890123456789"}) {
    EXPECT_TRUE(n->Matches(ok)) << ok;
  }
  for (const char* bad : {"01", "+1", "1.", ".5", "1e", "--1", "12345678901234567890"}) {
    EXPECT_FALSE(n->Matches(bad)) << bad;
  }
  auto i = Schema(R"({"type": "integer"})");
  EXPECT_TRUE(i->Matches("-42"));
  EXPECT_FALSE(i->Matches("4.2"));
  auto nonneg = Schema(R"({"type": "integer", "minimum": 0})");
  EXPECT_TRUE(nonneg->Matches("42"));
  EXPECT_FALSE(nonneg->Matches("-1"));
  auto b = Schema(R"({"type": "boolean"})");
  EXPECT_TRUE(b->Matches("true"));
  EXPECT_TRUE(b->Matches("false"));
  EXPECT_FALSE(b->Matches("null"));
  auto z = Schema(R"({"type": "null"})");
  EXPECT_TRUE(z->Matches("null"));
}

TEST(JsonSchemaTest, TypeArrays) {
  auto g = Schema(R"({"type": ["string", "null"]})");
  EXPECT_TRUE(g->Matches(R"("x")"));
  EXPECT_TRUE(g->Matches("null"));
  EXPECT_FALSE(g->Matches("1"));
}

TEST(JsonSchemaTest, ObjectsInSchemaOrderWithRequiredAndOptional) {
  auto g = Schema(R"({"type": "object", "properties": {
      "name": {"type": "string"}, "age": {"type": "integer"}, "tags": {"type": "array",
      "items": {"type": "string"}}}, "required": ["name", "tags"],
      "additionalProperties": false})");
  EXPECT_TRUE(g->Matches(R"({"name":"a","age":3,"tags":[]})"));
  EXPECT_TRUE(g->Matches(R"({"name":"a","tags":["x","y"]})"));
  EXPECT_TRUE(g->Matches("{\n  \"name\": \"a\",\n  \"tags\": [ \"x\" ]\n}"));
  EXPECT_FALSE(g->Matches(R"({"tags":[],"name":"a"})"));  // schema order
  EXPECT_FALSE(g->Matches(R"({"name":"a"})"));            // tags required
  EXPECT_FALSE(g->Matches(R"({"name":"a","tags":[],"x":1})"));
  EXPECT_FALSE(g->Matches(R"({"name":"a",,"tags":[]})"));
  EXPECT_FALSE(g->Matches(R"( {"name":"a","tags":[]})"));  // nothing before the value
}

TEST(JsonSchemaTest, AllOptionalPropertiesAndEmptyObject) {
  auto g = Schema(R"({"type": "object", "properties": {"a": {"type": "integer"},
      "b": {"type": "integer"}}})");
  for (const char* ok : {"{}", "{ }", R"({"a":1})", R"({"b":2})", R"({"a":1,"b":2})"}) {
    EXPECT_TRUE(g->Matches(ok)) << ok;
  }
  EXPECT_FALSE(g->Matches(R"({,"b":2})"));
  EXPECT_FALSE(g->Matches(R"({"a":1,})"));
  auto closed = Schema(R"({"type": "object", "additionalProperties": false})");
  EXPECT_TRUE(closed->Matches("{}"));
  EXPECT_FALSE(closed->Matches(R"({"a":1})"));
  auto open = Schema(R"({"type": "object"})");
  EXPECT_TRUE(open->Matches(R"({"a":[1,{"b":null}],"c":"d"})"));
}

TEST(JsonSchemaTest, WhitespaceIsBounded) {
  auto g = Schema(R"({"type": "array", "items": {"type": "integer"}})");
  EXPECT_TRUE(g->Matches("[" + std::string(20, ' ') + "1]"));
  EXPECT_FALSE(g->IsValidPrefix("[" + std::string(21, ' ')));
  EXPECT_TRUE(g->Matches("[1 ,\t2\r\n]"));
}

TEST(JsonSchemaTest, ArraysItemsPrefixItemsAndCounts) {
  auto g = Schema(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2,
      "maxItems": 3})");
  EXPECT_FALSE(g->Matches("[1]"));
  EXPECT_TRUE(g->Matches("[1,2]"));
  EXPECT_TRUE(g->Matches("[1, 2, 3]"));
  EXPECT_FALSE(g->Matches("[1,2,3,4]"));
  auto p = Schema(R"({"type": "array", "prefixItems": [{"type": "string"},
      {"type": "integer"}], "items": false})");
  EXPECT_TRUE(p->Matches(R"(["a",1])"));
  EXPECT_TRUE(p->Matches(R"(["a"])"));
  EXPECT_TRUE(p->Matches("[]"));
  EXPECT_FALSE(p->Matches(R"([1,"a"])"));
  EXPECT_FALSE(p->Matches(R"(["a",1,2])"));
  auto tail = Schema(R"({"type": "array", "prefixItems": [{"type": "string"}],
      "items": {"type": "boolean"}, "minItems": 1})");
  EXPECT_TRUE(tail->Matches(R"(["a",true,false])"));
  EXPECT_FALSE(tail->Matches("[]"));
  auto any = Schema(R"({"type": "array"})");
  EXPECT_TRUE(any->Matches(R"([1,"a",{"b":[]}])"));
}

TEST(JsonSchemaTest, EnumConstAnyOfOneOf) {
  auto e = Schema(R"({"enum": ["red", "green", 3, null, {"a": [1, 2]}]})");
  for (const char* ok : {R"("red")", R"("green")", "3", "null", R"({"a":[1,2]})"}) {
    EXPECT_TRUE(e->Matches(ok)) << ok;
  }
  EXPECT_FALSE(e->Matches(R"("blue")"));
  EXPECT_FALSE(e->Matches(R"({"a": [1, 2]})"));  // enum values as compact JSON only
  auto typed_enum = Schema(R"({"type": "string", "enum": ["a", 1]})");
  EXPECT_TRUE(typed_enum->Matches(R"("a")"));
  EXPECT_FALSE(typed_enum->Matches("1"));
  auto c = Schema(R"({"const": "fixed"})");
  EXPECT_TRUE(c->Matches(R"("fixed")"));
  EXPECT_FALSE(c->Matches(R"("other")"));
  auto a = Schema(R"({"anyOf": [{"type": "integer"}, {"type": "object", "properties":
      {"x": {"type": "string"}}, "required": ["x"]}]})");
  EXPECT_TRUE(a->Matches("5"));
  EXPECT_TRUE(a->Matches(R"({"x":"y"})"));
  EXPECT_FALSE(a->Matches(R"("5")"));
  auto o = Schema(R"({"oneOf": [{"type": "string"}, {"type": "boolean"}]})");
  EXPECT_TRUE(o->Matches("true"));
  EXPECT_TRUE(o->Matches(R"("t")"));
  auto all = Schema(R"({"allOf": [{"type": "boolean"}]})");
  EXPECT_TRUE(all->Matches("false"));
}

TEST(JsonSchemaTest, RefsAndRecursion) {
  auto g = Schema(R"({"$defs": {"node": {"type": "object", "properties": {
      "value": {"type": "integer"}, "children": {"type": "array", "items":
      {"$ref": "#/$defs/node"}}}, "required": ["value", "children"]}},
      "$ref": "#/$defs/node"})");
  EXPECT_TRUE(g->Matches(R"({"value":1,"children":[]})"));
  EXPECT_TRUE(
      g->Matches(R"({"value":1,"children":[{"value":2,"children":[{"value":3,"children":[]}]}]})"));
  EXPECT_FALSE(g->Matches(R"({"value":1,"children":[{"value":2}]})"));
  auto root = Schema(R"({"type": "object", "properties": {"next": {"anyOf": [{"$ref": "#"},
      {"type": "null"}]}}, "required": ["next"]})");
  EXPECT_TRUE(root->Matches(R"({"next":{"next":null}})"));
  auto definitions = Schema(R"({"definitions": {"a": {"type": "integer"}},
      "type": "array", "items": {"$ref": "#/definitions/a"}})");
  EXPECT_TRUE(definitions->Matches("[1,2]"));
}

TEST(JsonSchemaTest, StringLengthsPatternsAndFormats) {
  auto len = Schema(R"({"type": "string", "minLength": 2, "maxLength": 3})");
  EXPECT_FALSE(len->Matches(R"("a")"));
  EXPECT_TRUE(len->Matches(R"("ab")"));
  EXPECT_TRUE(len->Matches(R"("a\u00e9c")"));          // an escape is one character
  EXPECT_TRUE(len->Matches("\"\xF0\x9F\x98\x80z\""));  // so is a 4-byte one
  EXPECT_FALSE(len->Matches(R"("abcd")"));
  auto pat = Schema(R"({"type": "string", "pattern": "^[A-Z]{2}-\\d+$"})");
  EXPECT_TRUE(pat->Matches(R"("AB-12")"));
  EXPECT_FALSE(pat->Matches(R"("xAB-12")"));
  auto search = Schema(R"({"type": "string", "pattern": "ab"})");
  EXPECT_TRUE(search->Matches(R"("xxabyy")"));
  EXPECT_FALSE(search->Matches(R"("xxa")"));
  auto quote = Schema(R"({"type": "string", "pattern": "^a\"b$"})");
  EXPECT_TRUE(quote->Matches(R"("a\"b")"));
  EXPECT_FALSE(quote->IsValidPrefix(R"("a")"
                                    "b"));
  auto date = Schema(R"({"type": "string", "format": "date"})");
  EXPECT_TRUE(date->Matches(R"("2024-02-29")"));
  EXPECT_FALSE(date->Matches(R"("2024-13-01")"));
  auto dt = Schema(R"({"type": "string", "format": "date-time"})");
  EXPECT_TRUE(dt->Matches(R"("2024-02-29T12:30:00Z")"));
  EXPECT_TRUE(dt->Matches(R"("2024-02-29T12:30:00.123+02:00")"));
  auto uuid = Schema(R"({"type": "string", "format": "uuid"})");
  EXPECT_TRUE(uuid->Matches(R"("123e4567-e89b-12d3-a456-426614174000")"));
  auto ip = Schema(R"({"type": "string", "format": "ipv4"})");
  EXPECT_TRUE(ip->Matches(R"("192.168.0.255")"));
  EXPECT_FALSE(ip->Matches(R"("256.1.1.1")"));
}

TEST(JsonSchemaTest, EmptySchemaAndJsonObjectMode) {
  auto any = Schema("{}");
  EXPECT_TRUE(any->Matches("1"));
  EXPECT_TRUE(any->Matches(R"([{"a":"b"}])"));
  auto t = Schema("true");
  EXPECT_TRUE(t->Matches("null"));
  auto obj = CompileJsonObject();
  ASSERT_TRUE(obj.ok());
  EXPECT_TRUE((*obj)->Matches(R"({"a": {"b": [1, 2.5, "c", true, null]}, "d": {}})"));
  EXPECT_FALSE((*obj)->Matches("[1]"));
  EXPECT_FALSE((*obj)->Matches(R"({"a":1,})"));
  EXPECT_FALSE((*obj)->Matches(R"({"a" 1})"));
}

TEST(JsonSchemaTest, AnnotationsHaveNoEffect) {
  auto g = Schema(R"({"$schema": "https://json-schema.org/draft/2020-12/schema",
      "title": "T", "description": "d", "type": "object", "properties": {"a": {
      "type": "string", "description": "x", "default": "y", "examples": ["z"]}},
      "required": ["a"], "additionalProperties": false})");
  EXPECT_TRUE(g->Matches(R"({"a":"q"})"));
}

}  // namespace
}  // namespace skipjoin::grammar
