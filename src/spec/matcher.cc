#include "spec/matcher.h"

namespace ec::spec {

namespace {

// SplitPathSegments into `*segs` (cleared first), so a caller can keep the vector.
void SplitPathSegmentsInto(std::string_view path, std::vector<std::string_view>* segs) {
  segs->clear();
  size_t pos = 0;
  if (!path.empty() && path[0] == '/') pos = 1;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    segs->push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  if (!segs->empty() && segs->back().empty()) segs->pop_back();
}

}  // namespace

std::vector<std::string_view> SplitPathSegments(std::string_view path) {
  std::vector<std::string_view> segs;
  SplitPathSegmentsInto(path, &segs);
  return segs;
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
      auto it = node->literals.find(seg);
      if (it == node->literals.end()) it = node->literals.emplace(std::string(seg), std::make_unique<Node>()).first;
      node = it->second.get();
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

const PathMatcher::Leaf* PathMatcher::Find(const Node* node, std::span<const std::string_view> segs,
                                           size_t i, std::string_view method,
                                           std::vector<std::string_view>* values) {
  if (i == segs.size()) {
    for (const Leaf& l : node->leaves) {
      if (l.method == method) return &l;
    }
    return nullptr;
  }
  std::string_view seg = segs[i];
  if (auto it = node->literals.find(seg); it != node->literals.end()) {
    if (const Leaf* l = Find(it->second.get(), segs, i + 1, method, values)) return l;
  }
  if (seg.empty()) return nullptr;  // a template never matches an empty segment
  for (const Pattern& p : node->patterns) {
    if (seg.size() > p.prefix.size() + p.suffix.size() && seg.starts_with(p.prefix) && seg.ends_with(p.suffix)) {
      values->push_back(seg.substr(p.prefix.size(), seg.size() - p.prefix.size() - p.suffix.size()));
      if (const Leaf* l = Find(p.child.get(), segs, i + 1, method, values)) return l;
      values->pop_back();
    }
  }
  if (node->param) {
    values->push_back(seg);
    if (const Leaf* l = Find(node->param.get(), segs, i + 1, method, values)) return l;
    values->pop_back();
  }
  return nullptr;
}

const Operation* PathMatcher::Match(std::string_view method, std::string_view path,
                                    std::vector<PathParam>* params) const {
  // Kept per thread: matching runs once per exchange, and three small vectors grown afresh
  // each time were most of its cost.
  thread_local std::vector<std::string_view> segs, values;
  SplitPathSegmentsInto(path, &segs);
  values.clear();
  const Leaf* leaf = Find(&prefixed_, segs, 0, method, &values);
  if (leaf == nullptr) {
    values.clear();
    leaf = Find(&bare_, segs, 0, method, &values);
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
