// The lexer's whitespace rules (trim_blocks, lstrip_blocks, - and +) and
// token kinds, pinned against what Jinja2 3.1 produces.
#include "keel/template/lexer.h"

#include <gtest/gtest.h>

#include "keel/template/template.h"

namespace keel::jinja {
namespace {

std::string render(std::string_view source, const nlohmann::ordered_json& ctx = nlohmann::ordered_json::object()) {
  auto t = Template::compile(source);
  if (!t.ok()) return "COMPILE: " + t.status().to_string();
  auto out = t->render(ctx);
  return out.ok() ? *out : "RENDER: " + out.status().to_string();
}

TEST(TemplateLexer, TrimBlocksDropsOneNewlineAfterBlockTags) {
  EXPECT_EQ(render("{% if true %}\nx\n{% endif %}\ny"), "x\ny");
  EXPECT_EQ(render("{% if true %}\n\nx{% endif %}"), "\nx");
  EXPECT_EQ(render("{{ 1 }}\nx"), "1\nx");  // not after print tags
  EXPECT_EQ(render("{# c #}\nx"), "x");     // comments too
}

TEST(TemplateLexer, LstripBlocksOnlyAtLineStart) {
  EXPECT_EQ(render("a\n    {% if true %}b{% endif %}"), "a\nb");
  EXPECT_EQ(render("a  {% if true %}b{% endif %}"), "a  b");
  EXPECT_EQ(render("  {{ 1 }}"), "  1");  // never before print tags
  EXPECT_EQ(render("\t {% if true %}x{% endif %}"), "x");
}

TEST(TemplateLexer, MinusAndPlusControl) {
  EXPECT_EQ(render("a \n {%- if true -%} \n b {%- endif %}"), "ab");
  EXPECT_EQ(render("a\n  {%+ if true %}b{% endif %}"), "a\n  b");
  EXPECT_EQ(render("{% if true +%}\nb{% endif %}"), "\nb");
  EXPECT_EQ(render("x {{- 1 -}} y"), "x1y");
  EXPECT_EQ(render("x {#- c -#} y"), "xy");
}

TEST(TemplateLexer, TrailingNewlineAndCarriageReturns) {
  EXPECT_EQ(render("a\n"), "a");
  EXPECT_EQ(render("a\n\n"), "a\n");
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

TEST(TemplateLexer, RawBlock) {
  EXPECT_EQ(render("{% raw %}{{ x }}{% if %}{% endraw %}"), "{{ x }}{% if %}");
  EXPECT_EQ(render("{%- raw -%}  a  {%- endraw -%}"), "a");
}

TEST(TemplateLexer, Tokens) {
  auto toks = lex("{{ a.b[1] + 2.5e3 ~ 'x\\n' // 3 }}");
  ASSERT_TRUE(toks.ok()) << toks.status().to_string();
  std::vector<std::string> values;
  for (const auto& t : *toks) values.push_back(t.value);
  EXPECT_EQ(values, (std::vector<std::string>{"", "a", ".", "b", "[", "1", "]", "+", "2.5e3", "~", "x\n", "//",
                                              "3", "", ""}));
  EXPECT_EQ((*toks)[8].type, TokenType::kFloat);
  EXPECT_EQ((*toks)[5].type, TokenType::kInteger);
}

TEST(TemplateLexer, ErrorsNameLineAndColumn) {
  auto bad = lex("ok\n  {{ a ? b }}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "line 2, column 8: unexpected char '?'");
  EXPECT_FALSE(lex("{# never closed").ok());
  EXPECT_FALSE(lex("{{ 'unterminated }}").ok());
  EXPECT_FALSE(lex("{{ (1 ]").ok());
}

}  // namespace
}  // namespace keel::jinja
