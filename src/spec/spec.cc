#include "spec/spec.h"

#include "spec/matcher.h"

namespace ec::spec {

CompiledSpecs::CompiledSpecs() : matcher_(std::make_unique<PathMatcher>()) {}
CompiledSpecs::~CompiledSpecs() = default;

const Operation* CompiledSpecs::Match(std::string_view method, std::string_view path,
                                      std::vector<PathParam>* params) const {
  return matcher_->Match(method, path, params);
}

}  // namespace ec::spec
