#pragma once
// A compiled CEL program (internal): the node tree, its constants and the options it was
// compiled with. Immutable after Compile().

#include <memory>
#include <string>
#include <vector>

#include "base/arena.h"
#include "cel/ast.h"
#include "cel/cel.h"

namespace ec::cel {

class Program {
 public:
  Program(std::string source, CelOptions options)
      : source_(std::move(source)), options_(std::move(options)) {}

  const std::string& source() const { return source_; }
  const CelOptions& options() const { return options_; }
  const Node* root() const { return root_; }
  int num_slots() const { return num_slots_; }

  // Construction (parser and compiler only).
  Node* NewNode(Op op, uint32_t pos) {
    nodes_.push_back(std::make_unique<Node>());
    nodes_.back()->op = op;
    nodes_.back()->pos = pos;
    return nodes_.back().get();
  }
  Arena& constants() { return *constants_; }
  std::unique_ptr<Arena>& constants_owner() { return constants_; }
  void set_root(Node* n) { root_ = n; }
  void set_num_slots(int n) { num_slots_ = n; }

 private:
  std::string source_;
  CelOptions options_;
  std::unique_ptr<Arena> constants_ = std::make_unique<Arena>(1024);  // literals, folded constants
  std::vector<std::unique_ptr<Node>> nodes_;
  Node* root_ = nullptr;
  int num_slots_ = 0;
};

// Parses program->source() into program's nodes (macros expanded). Errors: kParseError with
// "line:col: message" plus the source line and a caret; kLimitExceeded for depth.
Status Parse(Program* program);

// Rewrites resolved, folded nodes into the specialised fast forms (kPath over comprehension
// variables and literal-key indexes, kCmpConst, kStrCall); see specialize.cc.
void Specialize(Program* program, Node* root);

// "<line>:<col>: <message>\n | <source line>\n | <caret>" for the byte offset `pos`.
std::string FormatLocation(std::string_view source, uint32_t pos, std::string_view message);

}  // namespace ec::cel
