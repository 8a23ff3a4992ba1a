#pragma once
// A compiled expression: the processed tree and everything it owns (immutable after Compile).

#include <memory>
#include <string>
#include <vector>

#include "jsonata/ast.h"
#include "jsonata/jsonata.h"
#include "jsonata/regex.h"
#include "jsonata/signature.h"

namespace ec::jsonata::internal {

struct Program {
  std::string source;
  JsonataOptions options;
  Node* root = nullptr;
  std::vector<std::unique_ptr<Node>> nodes;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<std::unique_ptr<Signature>> signatures;
  std::vector<std::unique_ptr<Regex>> regexes;

  Node* NewNode(NT type, int64_t position) {
    nodes.push_back(std::make_unique<Node>());
    nodes.back()->type = type;
    nodes.back()->position = position;
    return nodes.back().get();
  }
};

// Parses and processes `source` into `program` (root set on success).
bool ParseProgram(Program* program, Error* error);

// Compile-time specialisation of the processed tree (opcodes, cached built-ins, fused paths).
void Annotate(Program* program);

}  // namespace ec::jsonata::internal
