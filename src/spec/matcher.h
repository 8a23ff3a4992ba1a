#pragma once
// Operation matching (contract §2 Matching): method + path template, across several APIs.
// Internal to src/spec; CompiledSpecs::Match is the public entry.

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
  struct Literal {  // a literal segment
    std::string segment;
    std::unique_ptr<Node> child;
  };
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
    // A flat array searched by size and bytes: a node has few literal children (one or two
    // in most APIs), and a std::map's string compares (memcmp calls per tree level) were most
    // of a match's cost. Sorted by (size, bytes) for the binary search of a large one.
    std::vector<Literal> literals;
    std::vector<Pattern> patterns;
    std::unique_ptr<Node> param;
    std::vector<Leaf> leaves;
  };

  static bool Insert(Node* root, const Operation* op, std::string_view base_path);
  static Node* LiteralChild(const Node* node, std::string_view segment);
  static Node* LiteralChildSearch(const Node* node, std::string_view segment);  // a large node's
  // The leaf for the path's segments from byte `pos` on (the start of a segment; the path
  // ends at or past its size: a trailing slash is ignored), read in place instead of split
  // into a vector first.
  static const Leaf* Find(const Node* node, std::string_view path, size_t pos,
                          std::string_view method, std::vector<std::string_view>* values);

  Node prefixed_;
  Node bare_;
};

// Splits a path into segments ("/a/b/" -> ["a", "b"]; a trailing slash is ignored).
std::vector<std::string_view> SplitPathSegments(std::string_view path);

}  // namespace ec::spec
