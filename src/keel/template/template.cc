#include "keel/template/template.h"

#include "keel/template/error.h"
#include "keel/template/lexer.h"
#include "keel/template/parser.h"
#include "keel/template/pyformat.h"

namespace keel::jinja {

Result<Template> Template::compile(std::string_view source, const CompileOptions& options) {
  if (source.size() > options.max_source_bytes) {
    return ResourceExhaustedError("template of {} bytes exceeds max_source_bytes ({})", source.size(),
                                  options.max_source_bytes);
  }
  KEEL_ASSIGN_OR_RETURN(std::vector<Token> tokens, lex(source));
  ParseOptions po;
  po.max_nesting_depth = options.max_nesting_depth;
  KEEL_ASSIGN_OR_RETURN(StmtList body, parse(tokens, po));
  return Template(std::make_shared<const StmtList>(std::move(body)));
}

Result<std::string> Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  if (!context.is_object() && !context.is_null()) {
    return InvalidArgumentError("template context must be a JSON object, got {}", context.type_name());
  }
  try {
    Interp interp(options.limits, options.now ? options.now : [] { return std::chrono::system_clock::now(); });
    auto root = std::make_shared<Frame>();
    if (context.is_object()) {
      for (const auto& [k, v] : context.items()) root->set(k, from_json(v));
    }
    std::string out;
    interp.exec(*body_, root, out, nullptr);
    return out;
  } catch (const TemplateError& e) {
    return e.status();
  } catch (const std::bad_alloc&) {
    return ResourceExhaustedError("out of memory while rendering the template");
  } catch (const std::exception& e) {
    return InternalError("template render failed: {}", e.what());
  }
}

Result<std::string> Template::render(const nlohmann::json& context, const RenderOptions& options) const {
  return render(nlohmann::ordered_json::parse(context.dump()), options);
}

}  // namespace keel::jinja
