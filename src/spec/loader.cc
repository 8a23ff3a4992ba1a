// LoadSpecs: OpenAPI documents (YAML or JSON, via yaml-cpp) -> CompiledSpecs.
// yaml-cpp reports problems with exceptions; they are caught here, at the adapter boundary.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "spec/matcher.h"
#include "spec/spec.h"

namespace ec::spec {

class SpecLoader {
 public:
  Result<std::shared_ptr<const CompiledSpecs>> Load(std::span<const std::string> files);

 private:
  struct File {
    std::string path;  // as given or as resolved relative to the referring file
    std::string text;
    YAML::Node root;
  };
  // A node and the file it came from (after following $refs).
  // yaml-cpp's Node::operator= overwrites the referenced node's content; rebinding needs reset().
  struct Located {
    YAML::Node node;
    const File* file = nullptr;
    Located() = default;
    Located(const YAML::Node& n, const File* f) : node(n), file(f) {}
    Located(const Located& o) : node(o.node), file(o.file) {}
    Located& operator=(const Located& o) {
      node.reset(o.node);
      file = o.file;
      return *this;
    }
  };

  const File* LoadFile(const std::string& path, const File* from, const YAML::Mark& mark);
  bool Resolve(Located in, Located* out, int depth = 0);
  void CheckRefs(const File* file);
  void CheckRefsIn(const YAML::Node& node, const File* file, int depth);
  void LoadApi(const File* file);
  void LoadTopLevel(Located x, Api* api, const File* file);
  void LoadOperation(Located op_node, Api* api, const std::string& method, const std::string& tmpl);
  std::unique_ptr<Expression> Compile(Language language, Located value, std::string_view field,
                                      std::string_view owner);
  bool CheckKeys(Located map, std::string_view what, std::initializer_list<std::string_view> known);
  SourceLocation Where(const File* file, const YAML::Mark& mark, uint32_t line_in = 1,
                       uint32_t col_in = 1) const;
  void Error(const File* file, const YAML::Mark& mark, std::string message);

  std::map<std::string, std::unique_ptr<File>> files_;
  std::set<const File*> checked_;
  std::vector<std::string> errors_;
  std::unique_ptr<CompiledSpecs> specs_;
};

namespace {

// Read-only lookup: yaml-cpp's non-const operator[] inserts missing keys.
YAML::Node At(const YAML::Node& node, const std::string& key) { return node[key]; }

constexpr const char* kMethods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string Upper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

// JSON Pointer token unescaping (RFC 6901) after URI percent-decoding.
std::string PointerToken(std::string_view t) {
  std::string pd;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '%' && i + 2 < t.size()) {
      pd.push_back(static_cast<char>(std::stoi(std::string(t.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      pd.push_back(t[i]);
    }
  }
  std::string out;
  for (size_t i = 0; i < pd.size(); ++i) {
    if (pd[i] == '~' && i + 1 < pd.size() && (pd[i + 1] == '0' || pd[i + 1] == '1')) {
      out.push_back(pd[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(pd[i]);
    }
  }
  return out;
}

// The path part of a server URL with its variables set to their defaults; "" for "/".
std::string ServerPath(const YAML::Node& server, std::string* url_out) {
  std::string url = server["url"] && server["url"].IsScalar() ? server["url"].Scalar() : "";
  if (const YAML::Node vars = server["variables"]; vars && vars.IsMap()) {
    for (const auto& v : vars) {
      std::string name = "{" + v.first.Scalar() + "}";
      std::string def = v.second["default"] ? v.second["default"].Scalar() : "";
      for (size_t p; (p = url.find(name)) != std::string::npos;) url.replace(p, name.size(), def);
    }
  }
  *url_out = url;
  std::string path = url;
  if (size_t scheme = path.find("://"); scheme != std::string::npos) {
    size_t slash = path.find('/', scheme + 3);
    path = slash == std::string::npos ? "" : path.substr(slash);
  } else if (!path.empty() && path[0] != '/') {
    path = "/" + path;
  }
  if (size_t q = path.find_first_of("?#"); q != std::string::npos) path.resize(q);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

std::string Quote(std::string_view s) { return "`" + std::string(s) + "`"; }

}  // namespace

void SpecLoader::Error(const File* file, const YAML::Mark& mark, std::string message) {
  std::string where = file != nullptr ? file->path : std::string("<spec>");
  if (!mark.is_null()) where += ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
  std::string line = where + ": " + message;
  for (const std::string& e : errors_) {
    if (e == line) return;  // the same $ref is reached from several places
  }
  errors_.push_back(std::move(line));
}

const SpecLoader::File* SpecLoader::LoadFile(const std::string& path, const File* from,
                                             const YAML::Mark& mark) {
  std::string resolved = path;
  if (from != nullptr) {
    std::filesystem::path base = std::filesystem::path(from->path).parent_path();
    resolved = (base / path).lexically_normal().string();
  }
  if (auto it = files_.find(resolved); it != files_.end()) return it->second.get();
  std::ifstream in(resolved, std::ios::binary);
  if (!in) {
    if (from != nullptr) {
      Error(from, mark, "cannot read " + Quote(resolved) + " (referenced by $ref " + Quote(path) + ")");
    } else {
      Error(nullptr, YAML::Mark::null_mark(), "cannot read spec file " + Quote(resolved));
      errors_.back() = resolved + ": cannot read the spec file; check the path given to --spec";
    }
    return nullptr;
  }
  auto file = std::make_unique<File>();
  file->path = resolved;
  std::stringstream ss;
  ss << in.rdbuf();
  file->text = ss.str();
  try {
    file->root = YAML::Load(file->text);
  } catch (const YAML::Exception& e) {
    Error(file.get(), e.mark, "not valid YAML or JSON: " + e.msg);
    return nullptr;
  }
  const File* out = file.get();
  files_.emplace(resolved, std::move(file));
  return out;
}

bool SpecLoader::Resolve(Located in, Located* out, int depth) {
  if (!in.node.IsMap() || !At(in.node, "$ref")) {
    *out = in;
    return true;
  }
  const YAML::Node ref = At(in.node, "$ref");
  if (depth > 32) {
    Error(in.file, ref.Mark(), "$ref chain is too long or circular");
    return false;
  }
  if (!ref.IsScalar()) {
    Error(in.file, ref.Mark(), "$ref must be a string");
    return false;
  }
  std::string target = ref.Scalar();
  if (target.starts_with("http://") || target.starts_with("https://")) {
    Error(in.file, ref.Mark(), "remote $ref " + Quote(target) +
                                   " is not supported; download it and refer to the local file");
    return false;
  }
  size_t hash = target.find('#');
  std::string file_part = target.substr(0, hash);
  std::string pointer = hash == std::string::npos ? "" : target.substr(hash + 1);
  const File* file = in.file;
  if (!file_part.empty()) {
    file = LoadFile(file_part, in.file, ref.Mark());
    if (file == nullptr) return false;
  }
  YAML::Node node = file->root;
  if (!pointer.empty()) {
    if (pointer[0] != '/') {
      Error(in.file, ref.Mark(), "$ref " + Quote(target) + " must be a JSON pointer such as #/components/schemas/Order");
      return false;
    }
    size_t pos = 1;
    while (pos <= pointer.size()) {
      size_t slash = pointer.find('/', pos);
      if (slash == std::string::npos) slash = pointer.size();
      std::string token = PointerToken(std::string_view(pointer).substr(pos, slash - pos));
      pos = slash + 1;
      YAML::Node next;
      if (node.IsMap() && At(node, token)) {
        next = At(node, token);
      } else if (node.IsSequence() && !token.empty() &&
                 token.find_first_not_of("0123456789") == std::string::npos &&
                 std::stoul(token) < node.size()) {
        next = static_cast<const YAML::Node&>(node)[std::stoul(token)];
      } else {
        Error(in.file, ref.Mark(), "$ref " + Quote(target) + " points at nothing: no " + Quote(token) +
                                       " in " + file->path);
        return false;
      }
      node.reset(next);
    }
  }
  return Resolve(Located{node, file}, out, depth + 1);
}

void SpecLoader::CheckRefsIn(const YAML::Node& node, const File* file, int depth) {
  if (depth > 200) return;
  if (node.IsMap()) {
    if (node["$ref"]) {
      Located out;
      if (Resolve(Located{node, file}, &out) && out.file != file) CheckRefs(out.file);
    }
    for (const auto& kv : node) CheckRefsIn(kv.second, file, depth + 1);
  } else if (node.IsSequence()) {
    for (const auto& e : node) CheckRefsIn(e, file, depth + 1);
  }
}

void SpecLoader::CheckRefs(const File* file) {
  if (!checked_.insert(file).second) return;
  CheckRefsIn(file->root, file, 0);
}

SourceLocation SpecLoader::Where(const File* file, const YAML::Mark& mark, uint32_t line_in,
                                 uint32_t col_in) const {
  SourceLocation loc{file->path, 0, 0};
  if (mark.is_null()) return loc;
  char indicator = mark.pos >= 0 && static_cast<size_t>(mark.pos) < file->text.size() ? file->text[mark.pos] : ' ';
  if (indicator == '|' || indicator == '>') {
    // Block scalar: the text starts on the next line, at the block's indentation.
    size_t line_start = file->text.find('\n', static_cast<size_t>(mark.pos));
    uint32_t indent = 0;
    if (line_start != std::string::npos) {
      size_t p = line_start + 1;
      while (p < file->text.size() && file->text[p] == ' ') {
        ++indent;
        ++p;
      }
    }
    loc.line = static_cast<uint32_t>(mark.line) + 1 + line_in;
    loc.column = indent + col_in;
    return loc;
  }
  uint32_t quote = (indicator == '"' || indicator == '\'') ? 1 : 0;
  loc.line = static_cast<uint32_t>(mark.line) + line_in;
  loc.column = line_in == 1 ? static_cast<uint32_t>(mark.column) + quote + col_in : col_in;
  return loc;
}

bool SpecLoader::CheckKeys(Located map, std::string_view what, std::initializer_list<std::string_view> known) {
  bool ok = true;
  for (const auto& kv : map.node) {
    std::string key = kv.first.Scalar();
    bool found = false;
    for (std::string_view k : known) found = found || k == key;
    if (!found) {
      std::string list;
      for (std::string_view k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      Error(map.file, kv.first.Mark(), "unknown key " + Quote(key) + " in " + std::string(what) +
                                           " (known keys: " + list + ")");
      ok = false;
    }
  }
  return ok;
}

std::unique_ptr<Expression> SpecLoader::Compile(Language language, Located value, std::string_view field,
                                                std::string_view owner) {
  if (!value.node.IsScalar()) {
    Error(value.file, value.node.Mark(),
          std::string(field) + " of " + std::string(owner) + " must be a string holding a " +
              std::string(LanguageName(language)) + " expression");
    return nullptr;
  }
  std::string text = value.node.Scalar();
  // A block scalar keeps its final newline; it is not part of the expression.
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  SourceLocation where = Where(value.file, value.node.Mark());
  std::unique_ptr<Expression> out;
  CompileError err;
  if (CompileExpression(language, text, where, &out, &err)) return out;
  uint32_t line = err.line > 0 ? err.line : 1;
  uint32_t col = err.line > 0 ? err.column : 1;
  SourceLocation at = Where(value.file, value.node.Mark(), line, col);
  // Quote the expression: the whole of a one-line one, else its offending line with a caret.
  std::string_view src = text;
  size_t ls = 0;
  for (uint32_t l = 1; l < line && ls != std::string::npos; ++l) {
    ls = src.find('\n', ls);
    if (ls != std::string::npos) ++ls;
  }
  if (ls == std::string::npos) ls = 0;
  size_t le = src.find('\n', ls);
  std::string_view quoted = src.substr(ls, le == std::string::npos ? std::string::npos : le - ls);
  std::string msg = at.ToString() + ": " + std::string(field) + " of " + std::string(owner) + " is not valid " +
                    std::string(LanguageName(language)) + ": " + err.message + "\n    " + std::string(quoted);
  if (err.line > 0) msg += "\n    " + std::string(col > 0 ? col - 1 : 0, ' ') + "^";
  errors_.push_back(std::move(msg));
  return nullptr;
}

void SpecLoader::LoadTopLevel(Located x, Api* api, const File* file) {
  if (!x.node.IsMap()) {
    Error(x.file, x.node.Mark(), "x-eventception must be a mapping");
    return;
  }
  CheckKeys(x, "x-eventception", {"source", "redact", "resources"});
  if (const YAML::Node s = At(x.node, "source")) {
    if (s.IsScalar() && !s.Scalar().empty()) api->source = s.Scalar();
    else Error(x.file, s.Mark(), "x-eventception.source must be a non-empty URI-reference string");
  }
  if (const YAML::Node r = At(x.node, "redact")) {
    if (!r.IsSequence()) {
      Error(x.file, r.Mark(), "x-eventception.redact must be a list of paths such as request.headers.authorization");
    } else {
      for (const auto& p : r) {
        if (!p.IsScalar() || p.Scalar().empty()) {
          Error(x.file, p.Mark(), "each x-eventception.redact entry must be a path string");
          continue;
        }
        std::string path = p.Scalar();
        static constexpr std::string_view kRoots[] = {"request.", "response.", "client.", "gateway."};
        bool root_ok = false;
        for (std::string_view root : kRoots) root_ok = root_ok || path.starts_with(root);
        if (!root_ok) {
          Error(x.file, p.Mark(), "redact path " + Quote(path) +
                                      " must start with request., response., client. or gateway.");
          continue;
        }
        api->redact.push_back(path);
      }
    }
  }
  if (const YAML::Node res = At(x.node, "resources")) {
    if (!res.IsMap()) {
      Error(x.file, res.Mark(), "x-eventception.resources must map resource names to {key, state, changelog}");
      return;
    }
    for (const auto& kv : res) {
      Located r;
      if (!Resolve(Located{kv.second, x.file}, &r)) continue;
      auto def = std::make_unique<ResourceDefinition>();
      def->name = kv.first.Scalar();
      def->where = Where(x.file, kv.first.Mark());
      std::string owner = "resource " + def->name;
      if (!r.node.IsMap()) {
        Error(r.file, r.node.Mark(), owner + " must be a mapping with key, state and changelog");
        continue;
      }
      CheckKeys(r, owner, {"key", "state", "changelog"});
      if (const YAML::Node k = At(r.node, "key")) def->key = Compile(Language::kCel, {k, r.file}, "key", owner);
      if (const YAML::Node s = At(r.node, "state")) def->state = Compile(Language::kJsonata, {s, r.file}, "state", owner);
      if (const YAML::Node c = At(r.node, "changelog")) {
        if (c.IsScalar() && !c.Scalar().empty()) def->changelog = c.Scalar();
        else Error(r.file, c.Mark(), "changelog of " + owner + " must be a topic name");
      }
      api->resources.push_back(std::move(def));
    }
  }
  (void)file;
}

void SpecLoader::LoadOperation(Located op_node, Api* api, const std::string& method, const std::string& tmpl) {
  if (!op_node.node.IsMap()) {
    Error(op_node.file, op_node.node.Mark(), "operation " + Upper(method) + " " + tmpl + " must be a mapping");
    return;
  }
  auto op = std::make_unique<Operation>();
  op->method = Upper(method);
  op->path_template = tmpl;
  op->api = api;
  op->where = Where(op_node.file, op_node.node.Mark());
  if (const YAML::Node id = At(op_node.node, "operationId"); id && id.IsScalar()) op->id = id.Scalar();
  if (op->id.empty()) op->id = op->method + " " + tmpl;
  std::string owner_op = "operation " + op->id;
  if (const YAML::Node xn = At(op_node.node, "x-eventception")) {
    Located x;
    if (Resolve(Located{xn, op_node.file}, &x)) {
      if (!x.node.IsMap()) {
        Error(x.file, x.node.Mark(), "x-eventception of " + owner_op + " must be a mapping with resource and events");
      } else {
        CheckKeys(x, "x-eventception of " + owner_op, {"resource", "events"});
        if (const YAML::Node r = At(x.node, "resource")) {
          std::string name = r.IsScalar() ? r.Scalar() : "";
          for (const auto& def : api->resources) {
            if (def->name == name) op->resource = def.get();
          }
          if (op->resource == nullptr) {
            Error(x.file, r.Mark(), "resource " + Quote(name) + " of " + owner_op +
                                        " is not defined under x-eventception.resources");
          }
        }
        if (const YAML::Node evs = At(x.node, "events")) {
          if (!evs.IsSequence()) {
            Error(x.file, evs.Mark(), "events of " + owner_op + " must be a list");
          } else {
            size_t index = 0;
            for (const auto& e_raw : evs) {
              Located e;
              if (!Resolve(Located{e_raw, x.file}, &e)) continue;
              auto ev = std::make_unique<EventDefinition>();
              ev->index = index++;
              ev->operation = op.get();
              ev->where = Where(e.file, e.node.Mark());
              if (!e.node.IsMap()) {
                Error(e.file, e.node.Mark(), "each event of " + owner_op + " must be a mapping with at least a type");
                continue;
              }
              const YAML::Node type = At(e.node, "type");
              if (!type || !type.IsScalar() || type.Scalar().empty()) {
                Error(e.file, e.node.Mark(), "event " + std::to_string(ev->index) + " of " + owner_op +
                                                 " needs a `type` (its CloudEvents type, e.g. shop.order.placed)");
                continue;
              }
              ev->type = type.Scalar();
              std::string owner = "event " + ev->type + " (" + owner_op + ")";
              CheckKeys(e, owner, {"type", "when", "key", "subject", "data", "topic"});
              if (const YAML::Node n = At(e.node, "when")) ev->when = Compile(Language::kCel, {n, e.file}, "when", owner);
              if (const YAML::Node n = At(e.node, "key")) ev->key = Compile(Language::kCel, {n, e.file}, "key", owner);
              if (const YAML::Node n = At(e.node, "subject")) ev->subject = Compile(Language::kCel, {n, e.file}, "subject", owner);
              if (const YAML::Node n = At(e.node, "data")) ev->data = Compile(Language::kJsonata, {n, e.file}, "data", owner);
              ev->topic = ev->type;
              if (const YAML::Node n = At(e.node, "topic")) {
                if (n.IsScalar() && !n.Scalar().empty()) ev->topic = n.Scalar();
                else Error(e.file, n.Mark(), "topic of " + owner + " must be a topic name");
              }
              op->events.push_back(std::move(ev));
            }
          }
        }
      }
    }
  }
  api->operations.push_back(std::move(op));
}

void SpecLoader::LoadApi(const File* file) {
  const YAML::Node root = file->root;
  if (!root.IsMap()) {
    Error(file, root.Mark(), "an OpenAPI document must be a mapping with openapi, info and paths");
    return;
  }
  const YAML::Node version = root["openapi"];
  if (!version || !version.IsScalar()) {
    if (root["swagger"]) Error(file, root["swagger"].Mark(), "Swagger/OpenAPI 2.0 is not supported; convert the document to OpenAPI 3");
    else Error(file, root.Mark(), "not an OpenAPI document: no `openapi: 3.x` field");
    return;
  }
  if (!version.Scalar().starts_with("3.0") && !version.Scalar().starts_with("3.1")) {
    Error(file, version.Mark(), "OpenAPI version " + Quote(version.Scalar()) + " is not supported (3.0 and 3.1 are)");
    return;
  }
  CheckRefs(file);
  auto api = std::make_unique<Api>();
  api->file = file->path;
  if (const YAML::Node info = root["info"]; info && info.IsMap()) {
    if (info["title"] && info["title"].IsScalar()) api->title = info["title"].Scalar();
    if (info["version"] && info["version"].IsScalar()) api->version = info["version"].Scalar();
  }
  if (api->title.empty()) api->title = std::filesystem::path(file->path).stem().string();
  std::string first_url;
  if (const YAML::Node servers = root["servers"]; servers && servers.IsSequence()) {
    for (const auto& s : servers) {
      std::string url;
      std::string path = ServerPath(s, &url);
      if (first_url.empty()) first_url = url;
      bool seen = false;
      for (const std::string& p : api->base_paths) seen = seen || p == path;
      if (!seen) api->base_paths.push_back(path);
    }
  }
  if (api->base_paths.empty()) api->base_paths.push_back("");
  if (const YAML::Node x = root["x-eventception"]) {
    Located xl;
    if (Resolve(Located{x, file}, &xl)) LoadTopLevel(xl, api.get(), file);
  }
  if (api->source.empty()) api->source = first_url;
  if (api->source.empty()) {
    std::string s = "urn:eventception:api:";
    for (char c : api->title) s.push_back((isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '-');
    api->source = s;
  }
  const YAML::Node paths = root["paths"];
  if (paths && !paths.IsMap()) {
    Error(file, paths.Mark(), "paths must be a mapping of path templates");
  } else if (paths) {
    for (const auto& kv : paths) {
      std::string tmpl = kv.first.Scalar();
      if (tmpl.starts_with("x-")) continue;
      if (tmpl.empty() || tmpl[0] != '/') {
        Error(file, kv.first.Mark(), "path " + Quote(tmpl) + " must start with /");
        continue;
      }
      Located item;
      if (!Resolve(Located{kv.second, file}, &item)) continue;
      if (!item.node.IsMap()) continue;
      for (const char* m : kMethods) {
        if (const YAML::Node op = At(item.node, m)) {
          Located opl;
          if (Resolve(Located{op, item.file}, &opl)) LoadOperation(opl, api.get(), m, tmpl);
        }
      }
    }
  }
  specs_->apis_.push_back(std::move(api));
}

Result<std::shared_ptr<const CompiledSpecs>> SpecLoader::Load(std::span<const std::string> files) {
  specs_ = std::make_unique<CompiledSpecs>();
  if (files.empty()) return InvalidArgument("no spec files given; pass at least one --spec FILE");
  for (const std::string& path : files) {
    try {
      const File* f = LoadFile(path, nullptr, YAML::Mark::null_mark());
      if (f != nullptr) LoadApi(f);
    } catch (const YAML::Exception& e) {
      errors_.push_back(path + ": " + e.what());
    }
  }
  // Matching across every API: a method + full path defined twice is ambiguous.
  for (const auto& api : specs_->apis_) {
    for (const auto& op : api->operations) {
      for (const std::string& base : api->base_paths) {
        if (!specs_->matcher_->Add(op.get(), base)) {
          errors_.push_back(op->where.ToString() + ": " + op->method + " " + base + op->path_template +
                            " is defined more than once (operation " + op->id + "); each method and path may have one operation");
        }
      }
      specs_->matcher_->AddBare(op.get());
    }
    for (const std::string& r : api->redact) {
      bool seen = false;
      for (const std::string& e : specs_->redact_) seen = seen || e == r;
      if (!seen) specs_->redact_.push_back(r);
    }
  }
  if (!errors_.empty()) {
    std::string msg;
    for (const std::string& e : errors_) msg += (msg.empty() ? "" : "\n") + e;
    return ParseError(std::move(msg));
  }
  return std::shared_ptr<const CompiledSpecs>(std::move(specs_));
}

Result<std::shared_ptr<const CompiledSpecs>> LoadSpecs(std::span<const std::string> files) {
  SpecLoader loader;
  return loader.Load(files);
}

}  // namespace ec::spec
