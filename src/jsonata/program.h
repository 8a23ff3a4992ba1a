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
  // Nodes live in chunks that double in size (8, 16, 32, ...): a few allocations per program
  // instead of one per node (allocation and release were a quarter of compile time), without
  // constructing many unused nodes for small expressions. Addresses are stable.
  struct NodeChunk {
    std::unique_ptr<Node[]> nodes;
    size_t capacity = 0;
    size_t used = 0;
  };
  std::vector<NodeChunk> node_chunks;
  std::vector<std::unique_ptr<Slot>> slots;
  std::vector<std::unique_ptr<Signature>> signatures;
  std::vector<std::unique_ptr<Regex>> regexes;

  // Set by Annotate when the whole expression is a path of plain field names (`a.b.c`): the
  // names, so that Evaluate can walk JSON input without starting an evaluator.
  std::vector<std::string_view> json_name_path;

  Node* NewNode(NT type, int64_t position) {
    if (node_chunks.empty() || node_chunks.back().used == node_chunks.back().capacity) {
      size_t capacity = node_chunks.empty() ? 8 : node_chunks.back().capacity * 2;
      node_chunks.push_back({std::make_unique<Node[]>(capacity), capacity, 0});
    }
    Node* n = &node_chunks.back().nodes[node_chunks.back().used++];
    n->type = type;
    n->position = position;
    return n;
  }
  template <typename Fn>
  void ForEachNode(Fn fn) {
    for (NodeChunk& chunk : node_chunks)
      for (size_t i = 0; i < chunk.used; ++i) fn(&chunk.nodes[i]);
  }
};

// Parses and processes `source` into `program` (root set on success).
bool ParseProgram(Program* program, Error* error);

// Compile-time specialisation of the processed tree (opcodes, cached built-ins, fused paths).
void Annotate(Program* program);

}  // namespace ec::jsonata::internal
