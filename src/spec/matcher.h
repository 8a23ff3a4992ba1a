#pragma once
// Operation matching (contract §2 Matching): method + path template, across several APIs.
// Internal to src/spec; CompiledSpecs::Match is the public entry.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "spec/spec.h"

namespace ec::spec {

// A segment tree of path templates. At each segment a literal child is tried first, then
// partly templated segments ("{name}.json"), then a fully templated one ("{name}"), with
// backtracking: so a literal segment beats a template, leftmost difference first.
class PathMatcher {
 public:
  // Adds `op` under `base_path` ("" or "/api", the path part of a `servers` URL). Returns
  // false (and adds nothing) when the same method and template are already there.
  bool Add(const Operation* op, std::string_view base_path);
  // Adds `op` to the fallback tree, tried when no base path fits (gateways often strip it).
  void AddBare(const Operation* op);

  const Operation* Match(std::string_view method, std::string_view path,
                         std::vector<PathParam>* params) const;

 private:
  struct Node;
  struct Pattern {  // prefix{param}suffix within one segment
    std::string prefix, suffix;
    std::unique_ptr<Node> child;
  };
  struct Leaf {
    std::string method;
    const Operation* op;
    std::vector<std::string_view> names;  // path parameter names, in order
  };
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
    std::vector<Pattern> patterns;
    std::unique_ptr<Node> param;
    std::vector<Leaf> leaves;
  };

  static bool Insert(Node* root, const Operation* op, std::string_view base_path);
  static const Leaf* Find(const Node* node, std::span<const std::string_view> segs, size_t i,
                          std::string_view method, std::vector<std::string_view>* values);

  Node prefixed_;
  Node bare_;
};

// Splits a path into segments ("/a/b/" -> ["a", "b"]; a trailing slash is ignored).
std::vector<std::string_view> SplitPathSegments(std::string_view path);

}  // namespace ec::spec
