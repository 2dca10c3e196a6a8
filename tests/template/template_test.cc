// Language features, errors and limits of the renderer. The differential
// test covers the same ground against Jinja2 itself; these pin the cases one
// by one so a regression names its feature.
#include "keel/template/template.h"

#include <gtest/gtest.h>

#include <thread>

namespace keel::jinja {
namespace {

using nlohmann::ordered_json;

Result<std::string> try_render(std::string_view source, const ordered_json& ctx = ordered_json::object(),
                               const RenderOptions& options = {}) {
  auto t = Template::compile(source);
  if (!t.ok()) return t.status();
  return t->render(ctx, options);
}

std::string render(std::string_view source, const ordered_json& ctx = ordered_json::object()) {
  auto out = try_render(source, ctx);
  return out.ok() ? *out : "ERROR: " + out.status().to_string();
}

TEST(Template, PrintsPythonValues) {
  EXPECT_EQ(render("{{ none }} {{ true }} {{ 1 }} {{ 1.0 }} {{ 0.1 }} {{ 1e20 }} {{ 1e-5 }}"),
            "None True 1 1.0 0.1 1e+20 1e-05");
  EXPECT_EQ(render("{{ [1, 'a', none, {'k': (1,)}] }}"), "[1, 'a', None, {'k': (1,)}]");
  EXPECT_EQ(render("{{ [\"it's\"] }}"), "[\"it's\"]");
  EXPECT_EQ(render("{{ x }}|{{ x | default('d') }}"), "|d");
}

TEST(Template, Operators) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 3 }} {{ 'a' ~ 1 }} {{ 'ab' * 2 }}"),
            "3 -4 2 3.5 8 a1 abab");
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 'a' in 'cat' }} {{ 3 not in [1] }} {{ 1 == 1.0 }}"), "True True True True");
  EXPECT_EQ(render("{{ 'y' if 0 else 'n' }} {{ 0 or 'x' }} {{ 1 and 2 }} {{ not 1 }}"), "n x 2 False");
  EXPECT_EQ(render("{{ [1, 2, 3][1:] }} {{ 'hello'[::-1] }} {{ 'héllo'[1] }}"), "[2, 3] olleh é");
}

TEST(Template, ForLoop) {
  ordered_json ctx = {{"xs", {3, 4, 5}}, {"d", {{"b", 1}, {"a", 2}}}};
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.revindex0 }} {% endfor %}", ctx),
            "1TrueFalse2 2FalseFalse1 3FalseTrue0 ");
  EXPECT_EQ(render("{% for x in xs if x > 3 %}{{ loop.length }}{{ x }}{% endfor %}", ctx), "2425");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}", ctx), "b1a2");
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in xs %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}", ctx), "3");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.cycle('a', 'b') }}{{ loop.previtem | default('-') }}{% endfor %}", ctx),
            "a-b3a4");
}

TEST(Template, ScopesAndNamespaces) {
  EXPECT_EQ(render("{% set x = 0 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}"), "120");
  EXPECT_EQ(render("{% set ns = namespace(x=0) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}"),
            "3");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set s %}x{{ 1 }}{% endset %}[{{ s }}]"), "[x1]");
}

TEST(Template, MacrosAndCall) {
  EXPECT_EQ(render("{% macro m(a, b='B') %}{{ a }}{{ b }}{% endmacro %}{{ m(1) }}{{ m(1, b=2) }}"), "1B12");
  EXPECT_EQ(render("{% macro w() %}<{{ caller() }}>{% endmacro %}{% call w() %}in{% endcall %}"), "<in>");
}

TEST(Template, FiltersTestsMethods) {
  ordered_json ctx = {{"users", {{{"n", "a"}, {"ok", true}}, {{"n", "b"}, {"ok", false}}}}};
  EXPECT_EQ(render("{{ users | selectattr('ok') | map(attribute='n') | join(',') }}", ctx), "a");
  EXPECT_EQ(render("{{ users | map(attribute='n') | map('upper') | list }}", ctx), "['A', 'B']");
  EXPECT_EQ(render("{{ ' x ' | trim }} {{ 'ab' | upper }} {{ 'a b' | title }} {{ [3, 1] | sort }} {{ 2.5 | round }}"),
            "x AB A B [1, 3] 2.0");
  EXPECT_EQ(render("{{ 'a\\nb' | indent(2, true) }}"), "  a\n  b");
  EXPECT_EQ(render("{{ {'k': 'é', 'n': [1, 2.0, none]} | tojson }}"), "{\"k\": \"é\", \"n\": [1, 2.0, null]}");
  EXPECT_EQ(render("{{ {'k': 1} | tojson(indent=2) }}"), "{\n  \"k\": 1\n}");
  EXPECT_EQ(render("{{ 3 is odd }} {{ x is defined }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }}"),
            "True False True True True");
  EXPECT_EQ(render("{{ ' a b '.split() }} {{ 'abc'.startswith('a') }} {{ '{}-{}'.format(1, 2) }}"),
            "['a', 'b'] True 1-2");
  EXPECT_EQ(render("{{ {'a': 1}.get('b', 'no') }} {{ {'items': 1}['items'] }}"), "no 1");
}

TEST(Template, RaiseExceptionIsInvalidArgumentWithTheMessage) {
  auto out = try_render("{{ raise_exception('Roles must alternate') }}");
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status().message(), "Roles must alternate");
}

TEST(Template, RuntimeErrorsMatchJinja2Messages) {
  EXPECT_EQ(try_render("{{ x.y }}").status().message(), "'x' is undefined");
  EXPECT_EQ(try_render("{{ d.a.b }}", {{"d", ordered_json::object()}}).status().message(),
            "'dict object' has no attribute 'a'");
  EXPECT_EQ(try_render("{% set l = [] %}{{ l.append(1) }}").status().message(),
            "access to attribute 'append' of 'list' object is unsafe.");
  EXPECT_FALSE(try_render("{{ 'a' + 1 }}").ok());
  EXPECT_FALSE(try_render("{% for x in none %}{% endfor %}").ok());
  EXPECT_FALSE(try_render("{{ 1 | nosuchfilter }}").ok());
}

TEST(Template, SyntaxErrorsNameLineAndColumn) {
  auto t = Template::compile("line one\n{% if x %}\n{% endfor %}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(t.status().message().find("line 3"), std::string_view::npos) << t.status().to_string();
  auto u = Template::compile("{% if x %}never closed");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("'elif' or 'else' or 'endif'"), std::string_view::npos) << u.status().to_string();
  auto v = Template::compile("{{ 1 + }}");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("line 1, column 8"), std::string_view::npos) << v.status().to_string();
  EXPECT_FALSE(Template::compile("{% include 'x' %}").ok());
}

TEST(Template, LimitsAreResourceExhausted) {
  RenderOptions small;
  small.limits.max_loop_iterations = 100;
  auto loops = try_render("{% for i in range(50) %}{% for j in range(50) %}{% endfor %}{% endfor %}", {}, small);
  EXPECT_EQ(loops.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(loops.status().message().find("max_loop_iterations"), std::string_view::npos);

  small.limits.max_output_bytes = 1000;
  auto big = try_render("{% for i in range(90) %}0123456789abcdef{% endfor %}", {}, small);
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("max_output_bytes"), std::string_view::npos);
  EXPECT_EQ(try_render("{{ 'x' * 100000 }}", {}, small).status().code(), StatusCode::kResourceExhausted);

  auto rec = try_render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_EQ(rec.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(rec.status().message().find("max_call_depth"), std::string_view::npos);

  std::string deep = "{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}";
  auto nested = Template::compile(deep);
  EXPECT_EQ(nested.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(nested.status().message().find("max_nesting_depth"), std::string_view::npos);
}

TEST(Template, StrftimeNowUsesTheInjectedClock) {
  RenderOptions o;
  o.now = [] { return std::chrono::system_clock::from_time_t(86400 * 365); };
  auto out = try_render("{{ strftime_now('%Y') }}", {}, o);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(*out == "1971" || *out == "1970") << *out;
}

TEST(Template, CompiledTemplateRendersConcurrently) {
  auto t = Template::compile("{% for m in messages %}{{ m.role }}:{{ m.content | trim }};{% endfor %}");
  ASSERT_TRUE(t.ok());
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      for (int k = 0; k < 200; ++k) {
        ordered_json ctx = {{"messages", {{{"role", "user"}, {"content", " t" + std::to_string(i) + " "}}}}};
        auto out = t->render(ctx);
        if (!out.ok() || *out != "user:t" + std::to_string(i) + ";") ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace keel::jinja
