// What CompileJsonSchema refuses, and that each error names what is wrong and
// where (a JSON pointer into the schema).
#include <gtest/gtest.h>

#include "common/grammar/grammar.h"

namespace skipjoin::grammar {
namespace {

std::string Error(std::string_view schema) {
  auto g = CompileJsonSchema(schema);
  EXPECT_FALSE(g.ok()) << schema;
  return g.ok() ? "" : g.status().message();
}

TEST(JsonSchemaErrorsTest, UnsupportedKeywordsNameKeywordAndPath) {
  EXPECT_EQ(Error(R"({"type": "object", "properties": {"a": {"type": "object",
      "patternProperties": {}}}})"),
            "unsupported JSON Schema keyword 'patternProperties' at /properties/a");
  EXPECT_EQ(Error(R"({"type": "array", "uniqueItems": true})"),
            "unsupported JSON Schema keyword 'uniqueItems' at /");
  EXPECT_EQ(Error(R"({"type": "array", "items": {"not": {}}})"),
            "unsupported JSON Schema keyword 'not' at /items");
  EXPECT_EQ(Error(R"({"type": "integer", "maximum": 3})"),
            "unsupported JSON Schema keyword 'maximum' at /");
  EXPECT_EQ(Error(R"({"type": "integer", "minimum": 1})"),
            "'minimum' at / is supported only as 0 (minimum/maximum bounds are not)");
  EXPECT_EQ(Error(R"({"type": "string", "format": "email"})"),
            "unsupported 'format' \"email\" at / (supported: date, time, date-time, uuid, ipv4)");
  EXPECT_EQ(Error(R"({"type": "object", "additionalProperties": {"type": "string"}})"),
            "'additionalProperties' with a schema at / is not supported (use false)");
  EXPECT_EQ(Error(R"({"allOf": [{"type": "string"}, {"minLength": 1}]})"),
            "'allOf' at / is supported only with exactly one schema");
  EXPECT_EQ(Error(R"({"$ref": "#/$defs/a", "type": "string", "$defs": {"a": {}}})"),
            "'$ref' combined with 'type' at / is not supported");
  EXPECT_EQ(Error(R"({"type": "string", "pattern": "a", "maxLength": 3})"),
            "'pattern' combined with 'minLength'/'maxLength' at / is not supported");
  EXPECT_EQ(Error(R"x({"type": "string", "pattern": "(?=a)"})x"),
            "'pattern' at /: lookaround is not supported at offset 0 in regex");
}

TEST(JsonSchemaErrorsTest, MalformedSchemas) {
  EXPECT_EQ(Error("{not json"), "JSON Schema is not valid JSON");
  EXPECT_EQ(Error("[]"), "schema at / must be an object or a boolean");
  EXPECT_EQ(Error("false"), "schema 'false' at / can never be satisfied");
  EXPECT_EQ(Error(R"({"type": "strin"})"),
            "'type' at / must be one of object, array, string, number, integer, boolean, null "
            "(or an array of them)");
  EXPECT_EQ(Error(R"({"type": "object", "properties": []})"),
            "'properties' at / must be an object");
  EXPECT_EQ(Error(R"({"type": "object", "properties": {"a": {}}, "required": "a"})"),
            "'required' at / must be an array of strings");
  EXPECT_EQ(Error(R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})"),
            "required property 'b' at / is not in 'properties'");
  EXPECT_EQ(Error(R"({"type": "string", "minLength": -1})"),
            "'minLength' at / must be a non-negative integer");
  EXPECT_EQ(Error(R"({"type": "string", "minLength": 3, "maxLength": 2})"),
            "'minLength' above 'maxLength' at /");
  EXPECT_EQ(Error(R"({"type": "array", "minItems": 3, "maxItems": 2})"),
            "array at / cannot have 3 items (at most 2)");
  EXPECT_EQ(Error(R"({"enum": []})"), "'enum' at / must be a non-empty array");
  EXPECT_EQ(Error(R"({"type": "integer", "enum": ["a"]})"),
            "no 'enum' value at / has an allowed 'type'");
  EXPECT_EQ(Error(R"({"anyOf": []})"), "'anyOf' at / must be a non-empty array of schemas");
  EXPECT_EQ(Error(R"({"$ref": "#/$defs/missing"})"),
            "$ref '#/$defs/missing' at / does not resolve");
  EXPECT_EQ(Error(R"({"$ref": "http://example.com/s.json"})"),
            "$ref 'http://example.com/s.json' at / is not supported (only references inside "
            "the schema, \"#...\")");
  EXPECT_EQ(Error(R"({"$defs": []})"), "'$defs' at / must be an object");
}

TEST(JsonSchemaErrorsTest, LeftRecursionIsRefused) {
  EXPECT_EQ(Error(R"({"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}},
      "$ref": "#/$defs/a"})"),
            "left recursion: /$defs/a refers to itself without consuming any input");
}

TEST(JsonSchemaErrorsTest, HostileSchemasStayBounded) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += R"({"type": "array", "items": )";
  deep += "{}";
  for (int i = 0; i < 100; ++i) deep += "}";
  EXPECT_EQ(Error(deep).rfind("schema nested deeper than 64 levels at /items/items", 0), 0u);
  EXPECT_EQ(Error(R"({"type": "string", "maxLength": 1000000})"),
            "'maxLength' 1000000 at / is above the supported limit of 1000");
  // A chain of references counts as nesting too.
  std::string chain = R"({"$defs": {)";
  for (int i = 0; i < 100; ++i) {
    chain += "\"d" + std::to_string(i) + R"(": {"type": "array", "items": {"$ref": "#/$defs/d)" +
             std::to_string(i + 1) + "\"}},";
  }
  chain += R"("d100": {}}, "$ref": "#/$defs/d0"})";
  EXPECT_NE(Error(chain).find("schema nested deeper than 64 levels"), std::string::npos);
  // Unsatisfiable alternatives are pruned; an unsatisfiable whole is an error.
  EXPECT_EQ(Error(R"({"type": "array", "prefixItems": [], "items": false, "minItems": 1})"),
            "array at / cannot have 1 items (at most 0)");
}

}  // namespace
}  // namespace skipjoin::grammar
