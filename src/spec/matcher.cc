#include "spec/matcher.h"

#include <algorithm>
#include <cstring>

#include "base/bytes_equal.h"

namespace ec::spec {

std::vector<std::string_view> SplitPathSegments(std::string_view path) {
  std::vector<std::string_view> segs;
  size_t pos = 0;
  if (!path.empty() && path[0] == '/') pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    segs.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  if (!segs.empty() && segs.back().empty()) segs.pop_back();
  return segs;
}

namespace {

__attribute__((always_inline)) inline bool SameBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && BytesEqual(a.data(), b.data(), a.size());
}

// The order of Node::literals: by size, then bytes.
bool LiteralLess(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return a.size() < b.size();
  return std::memcmp(a.data(), b.data(), a.size()) < 0;
}

// Up to this many literal children are searched one by one (a size compare each).
constexpr size_t kLinearLiterals = 8;

}  // namespace

__attribute__((always_inline)) inline PathMatcher::Node* PathMatcher::LiteralChild(const Node* node,
                                                                                  std::string_view segment) {
  const std::vector<Literal>& lits = node->literals;
  if (lits.size() <= kLinearLiterals) [[likely]] {
    for (const Literal& l : lits) {
      if (SameBytes(l.segment, segment)) return l.child.get();
    }
    return nullptr;
  }
  return LiteralChildSearch(node, segment);
}

PathMatcher::Node* PathMatcher::LiteralChildSearch(const Node* node, std::string_view segment) {
  const std::vector<Literal>& lits = node->literals;
  auto it = std::lower_bound(lits.begin(), lits.end(), segment,
                             [](const Literal& l, std::string_view s) { return LiteralLess(l.segment, s); });
  return it != lits.end() && SameBytes(it->segment, segment) ? it->child.get() : nullptr;
}

bool PathMatcher::Insert(Node* node, const Operation* op, std::string_view base_path) {
  std::vector<std::string_view> names;
  std::vector<std::string_view> segs = SplitPathSegments(base_path);
  std::vector<std::string_view> tmpl = SplitPathSegments(op->path_template);
  size_t literal_count = segs.size();
  segs.insert(segs.end(), tmpl.begin(), tmpl.end());
  for (size_t i = 0; i < segs.size(); ++i) {
    std::string_view seg = segs[i];
    size_t open = i >= literal_count ? seg.find('{') : std::string_view::npos;
    size_t close = open == std::string_view::npos ? open : seg.find('}', open);
    if (open == std::string_view::npos || close == std::string_view::npos) {
      Node* child = LiteralChild(node, seg);
      if (child == nullptr) {
        auto at = std::lower_bound(node->literals.begin(), node->literals.end(), seg,
                                   [](const Literal& l, std::string_view s) { return LiteralLess(l.segment, s); });
        child = node->literals.insert(at, Literal{std::string(seg), std::make_unique<Node>()})->child.get();
      }
      node = child;
      continue;
    }
    names.push_back(seg.substr(open + 1, close - open - 1));
    if (open == 0 && close == seg.size() - 1) {
      if (!node->param) node->param = std::make_unique<Node>();
      node = node->param.get();
      continue;
    }
    std::string prefix(seg.substr(0, open)), suffix(seg.substr(close + 1));
    Pattern* p = nullptr;
    for (Pattern& e : node->patterns) {
      if (e.prefix == prefix && e.suffix == suffix) p = &e;
    }
    if (p == nullptr) {
      node->patterns.push_back(Pattern{prefix, suffix, std::make_unique<Node>()});
      p = &node->patterns.back();
    }
    node = p->child.get();
  }
  for (const Leaf& l : node->leaves) {
    if (l.method == op->method) return false;
  }
  node->leaves.push_back(Leaf{op->method, op, std::move(names)});
  return true;
}

bool PathMatcher::Add(const Operation* op, std::string_view base_path) {
  return Insert(&prefixed_, op, base_path);
}

void PathMatcher::AddBare(const Operation* op) { Insert(&bare_, op, ""); }

const PathMatcher::Leaf* PathMatcher::Find(const Node* node, std::string_view path, size_t pos,
                                           std::string_view method, std::vector<std::string_view>* values) {
  // Alternatives are tried in order (the literal child, the partly templated ones, the fully
  // templated one) and the first leaf found wins. The last alternative left at a node is
  // followed in this loop instead of a call; a failed try's parameters are dropped by its
  // caller (back to the size before the try), not one by one on the way back.
  for (;;) {
    // SplitPathSegments's segments: from after a leading slash, split at every slash, the
    // last one dropped when empty. So the segments end when `pos` reaches the path's size
    // (an empty last segment) or passes it (after a last segment without a slash).
    if (pos >= path.size()) {
      for (const Leaf& l : node->leaves) {
        if (SameBytes(l.method, method)) return &l;
      }
      return nullptr;
    }
    const void* slash = std::memchr(path.data() + pos, '/', path.size() - pos);
    const size_t end = slash != nullptr ? static_cast<size_t>(static_cast<const char*>(slash) - path.data()) : path.size();
    const std::string_view seg = path.substr(pos, end - pos);
    pos = end + 1;
    const Node* literal = LiteralChild(node, seg);
    // A template never matches an empty segment.
    if (seg.empty() || (node->patterns.empty() && !node->param)) {
      if (literal == nullptr) return nullptr;
      node = literal;
      continue;
    }
    const size_t mark = values->size();
    if (literal != nullptr) {
      if (const Leaf* l = Find(literal, path, pos, method, values)) return l;
      values->resize(mark);
    }
    for (const Pattern& p : node->patterns) {
      if (seg.size() > p.prefix.size() + p.suffix.size() && seg.starts_with(p.prefix) && seg.ends_with(p.suffix)) {
        values->push_back(seg.substr(p.prefix.size(), seg.size() - p.prefix.size() - p.suffix.size()));
        if (const Leaf* l = Find(p.child.get(), path, pos, method, values)) return l;
        values->resize(mark);
      }
    }
    if (!node->param) return nullptr;
    values->push_back(seg);
    node = node->param.get();
  }
}

const Operation* PathMatcher::Match(std::string_view method, std::string_view path,
                                    std::vector<PathParam>* params) const {
  // Kept per thread: matching runs once per exchange, and small vectors grown afresh each
  // time were most of its cost.
  thread_local std::vector<std::string_view> values;
  const size_t start = !path.empty() && path[0] == '/' ? 1 : 0;
  values.clear();
  const Leaf* leaf = Find(&prefixed_, path, start, method, &values);
  if (leaf == nullptr) {
    values.clear();
    leaf = Find(&bare_, path, start, method, &values);
  }
  if (leaf == nullptr) return nullptr;
  if (params != nullptr) {
    params->clear();
    for (size_t i = 0; i < leaf->names.size() && i < values.size(); ++i) {
      params->push_back(PathParam{leaf->names[i], values[i]});
    }
  }
  return leaf->op;
}

}  // namespace ec::spec
