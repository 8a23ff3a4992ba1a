// PathMatcher against a reference: the matcher as it was before it read the path in place
// (segments split into a vector first, literal children in a std::map), kept here verbatim in
// its algorithm. Random operation sets (templated, partly templated and literal segments,
// empty segments, several base paths, the bare tree, duplicates) and random paths (trailing
// and doubled slashes, percent-encoded bytes, no leading slash, unknown methods) must give the
// same operation, the same parameters (the same bytes of the path) and the same Add results.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "spec/matcher.h"

namespace ec::spec {
namespace {

class ReferenceMatcher {
 public:
  bool Add(const Operation* op, std::string_view base_path) { return Insert(&prefixed_, op, base_path); }
  void AddBare(const Operation* op) { Insert(&bare_, op, ""); }

  const Operation* Match(std::string_view method, std::string_view path, std::vector<PathParam>* params) const {
    std::vector<std::string_view> segs = SplitPathSegments(path), values;
    const Leaf* leaf = Find(&prefixed_, segs, 0, method, &values);
    if (leaf == nullptr) {
      values.clear();
      leaf = Find(&bare_, segs, 0, method, &values);
    }
    if (leaf == nullptr) return nullptr;
    params->clear();
    for (size_t i = 0; i < leaf->names.size() && i < values.size(); ++i) {
      params->push_back(PathParam{leaf->names[i], values[i]});
    }
    return leaf->op;
  }

 private:
  struct Node;
  struct Pattern {
    std::string prefix, suffix;
    std::unique_ptr<Node> child;
  };
  struct Leaf {
    std::string method;
    const Operation* op;
    std::vector<std::string_view> names;
  };
  struct Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
    std::vector<Pattern> patterns;
    std::unique_ptr<Node> param;
    std::vector<Leaf> leaves;
  };

  static bool Insert(Node* node, const Operation* op, std::string_view base_path) {
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

  static const Leaf* Find(const Node* node, std::span<const std::string_view> segs, size_t i,
                          std::string_view method, std::vector<std::string_view>* values) {
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
    if (seg.empty()) return nullptr;
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

  Node prefixed_;
  Node bare_;
};

template <class T>
const T& Pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

// Segments a path or a template is made of: short literals that collide with the templates'
// prefixes and suffixes, empty ones, percent-encoded bytes, and (with `templated`) templates.
std::string Segment(std::mt19937& rng, bool templated) {
  static const std::vector<std::string> kLiterals = {
      "a", "b", "ab", "ba", "orders", "customers", "me", "latest", "api", "v1", "v2", "x.json", "a.json",
      "", "%2F", "a%20b", "%7Bid%7D", "vv", "aab", "abb", "a.b", "0123456789abcdef", "0123456789abcdeg",
      "items-0123456789", "items-0123456788"};
  static const std::vector<std::string> kTemplates = {"{id}", "{id}.json", "v{id}", "a{id}b", "{id}s",
                                                      "x{id}", "{id}", "a{id}", "{id}b"};
  if (templated && rng() % 3 == 0) return Pick(rng, kTemplates);
  return Pick(rng, kLiterals);
}

// Many literal children under one node (the matcher's binary search above 8): numbered names.
std::string Numbered(std::mt19937& rng) { return "n" + std::to_string(rng() % 24); }

std::string Join(std::mt19937& rng, size_t n, bool templated, bool wide) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += '/';
    out += wide && rng() % 2 == 0 ? Numbered(rng) : Segment(rng, templated);
  }
  return out;
}

TEST(PathMatcherTest, RandomSpecsAndPathsMatchAsTheReference) {
  std::mt19937 rng(20261128);
  const std::vector<std::string> kMethods = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  const std::vector<std::string> kBases = {"", "/api", "/api/", "/v1/api", "/a", "/orders", "/n3"};
  const std::vector<std::string> kPathMethods = {"GET", "POST", "PUT", "PATCH", "DELETE", "get", "HEAD", ""};
  size_t matched = 0, with_params = 0, bare = 0, duplicates = 0;
  for (int round = 0; round < 400; ++round) {
    const bool wide = round % 4 == 3;
    std::vector<std::unique_ptr<Operation>> ops;
    std::set<const Operation*> bare_only;  // added to the bare tree only
    PathMatcher matcher;
    ReferenceMatcher reference;
    const size_t n_ops = 1 + rng() % 40;
    for (size_t i = 0; i < n_ops; ++i) {
      auto op = std::make_unique<Operation>();
      op->id = "op" + std::to_string(i);
      op->method = Pick(rng, kMethods);
      op->path_template = Join(rng, rng() % 5, true, wide);
      if (rng() % 6 == 0) op->path_template += '/';
      const size_t n_bases = rng() % 3;  // 0: only the bare tree
      for (size_t b = 0; b < n_bases; ++b) {
        const std::string& base = Pick(rng, kBases);
        const bool added = matcher.Add(op.get(), base);
        ASSERT_EQ(added, reference.Add(op.get(), base)) << op->method << " " << base << op->path_template;
        duplicates += added ? 0 : 1;
      }
      if (n_bases == 0) bare_only.insert(op.get());
      matcher.AddBare(op.get());
      reference.AddBare(op.get());
      ops.push_back(std::move(op));
    }
    for (int k = 0; k < 300; ++k) {
      // Mostly paths built like the templates (with values where they have parameters), so
      // that many match; some with a base path, a trailing or doubled slash, no leading slash.
      std::string path;
      if (rng() % 2 == 0) path = Pick(rng, kBases);
      std::string rest = Join(rng, rng() % 6, false, wide);
      if (rng() % 3 == 0) {
        const Operation& op = *Pick(rng, ops);
        rest.clear();
        for (std::string_view seg : SplitPathSegments(op.path_template)) {
          rest += '/';
          size_t open = seg.find('{');
          size_t close = open == std::string_view::npos ? open : seg.find('}', open);
          if (close == std::string_view::npos) {
            rest += seg;
          } else {
            rest += seg.substr(0, open);
            rest += rng() % 8 == 0 ? "" : Segment(rng, false);
            rest += seg.substr(close + 1);
          }
        }
      }
      path += rest;
      switch (rng() % 8) {
        case 0: path += '/'; break;
        case 1: path += "//"; break;
        case 2: if (!path.empty() && path[0] == '/') path.erase(0, 1); break;
        case 3: path.insert(0, "/"); break;
        default: break;
      }
      const std::string& method = rng() % 10 == 0 ? Pick(rng, kPathMethods) : Pick(rng, kMethods);
      std::vector<PathParam> got = {PathParam{"stale", "stale"}}, want;
      const Operation* got_op = matcher.Match(method, path, &got);
      const Operation* want_op = reference.Match(method, path, &want);
      ASSERT_EQ(got_op, want_op) << method << " " << path << " round " << round;
      if (want_op == nullptr) continue;
      ++matched;
      with_params += want.empty() ? 0 : 1;
      bare += bare_only.count(want_op);
      ASSERT_EQ(got.size(), want.size()) << method << " " << path;
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(got[i].name, want[i].name) << method << " " << path;
        // The same bytes of the path, not merely equal text.
        EXPECT_EQ(got[i].value.data(), want[i].value.data()) << method << " " << path;
        EXPECT_EQ(got[i].value.size(), want[i].value.size()) << method << " " << path;
      }
    }
  }
  // The generator reaches what the comparison is about.
  EXPECT_GT(matched, 8000u);
  EXPECT_GT(with_params, 2000u);
  EXPECT_GT(duplicates, 300u);
  EXPECT_GT(bare, 2000u);
}

TEST(PathMatcherTest, ManyLiteralChildrenAreFoundByBinarySearch) {
  // Above the linear search's size: every child found, a near miss of each not.
  std::vector<std::unique_ptr<Operation>> ops;
  PathMatcher matcher;
  for (int i = 0; i < 40; ++i) {
    auto op = std::make_unique<Operation>();
    op->id = "op" + std::to_string(i);
    op->method = "GET";
    op->path_template = "/" + std::string(i % 7 + 1, 'a' + i % 5) + std::to_string(i) + "/{id}";
    ASSERT_TRUE(matcher.Add(op.get(), "/api"));
    ops.push_back(std::move(op));
  }
  for (const auto& op : ops) {
    const std::string seg(SplitPathSegments(op->path_template)[0]);
    std::vector<PathParam> params;  // views into `path`
    const std::string path = "/api/" + seg + "/7";
    EXPECT_EQ(matcher.Match("GET", path, &params), op.get()) << seg;
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0].value, "7");
    EXPECT_EQ(matcher.Match("GET", "/api/" + seg + "x/7", &params), nullptr) << seg;
    EXPECT_EQ(matcher.Match("GET", "/api/x" + seg + "/7", &params), nullptr) << seg;
  }
}

}  // namespace
}  // namespace ec::spec
