// Pratt parser (binding powers as in jsonata-js) and the post-pass that turns the raw tree
// into paths of steps, with predicates as stages, group-by, sort, tuples and `%` ancestry.

#include <string>
#include <string_view>
#include <unordered_map>

#include "jsonata/lexer.h"
#include "jsonata/program.h"

namespace ec::jsonata::internal {
namespace {

// Left binding power of an operator, -1 for an unknown one (jsonata-js's operator table). A
// switch rather than a map: this runs for every token and was a tenth of compile time.
int BindingPower(std::string_view op) {
  if (op.size() == 1) {
    switch (op[0]) {
      case '.': return 75;
      case '[': case '(': case '@': case '#': case ';': case ':': return 80;
      case ']': case '}': case ')': case ',': return 0;
      case '{': return 70;
      case '?': case '|': return 20;
      case '+': case '-': case '&': return 50;
      case '*': case '/': case '%': return 60;
      case '=': case '<': case '>': case '^': return 40;
      default: return -1;
    }
  }
  if (op == "**") return 60;
  if (op == "..") return 20;
  if (op == ":=") return 10;
  if (op == "!=" || op == "<=" || op == ">=" || op == "~>" || op == "?:" || op == "??" || op == "in") return 40;
  if (op == "and") return 30;
  if (op == "or") return 25;
  return -1;
}

#define PT(x)                    \
  ({                             \
    auto pt_v_ = (x);            \
    if (failed_) return nullptr; \
    pt_v_;                       \
  })
#define PCHK(x)                  \
  do {                           \
    (x);                         \
    if (failed_) return nullptr; \
  } while (0)

class Parser {
 public:
  Parser(Program* prog, Error* error) : prog_(prog), error_(error), lexer_(prog->source) {}

  Node* Parse() {
    PCHK(Advance({}, false));
    Node* expr = PT(Expression(0));
    if (node_.type != TT::kEnd) {
      return Fail("S0201", "Syntax error", node_.position, node_.value);
    }
    Node* result = PT(Process(expr));
    if (result->has_seeking_parent || result->type == NT::kParent) {
      return Fail("S0217", "The object representing the 'parent' cannot be derived from this expression",
                  result->position, TypeName(result->type));
    }
    return result;
  }

 private:
  Node* Fail(const char* code, std::string message, int64_t position, std::string token = {},
             std::string value = {}) {
    if (!failed_) {
      failed_ = true;
      error_->code = code;
      error_->message = std::move(message);
      error_->position = position;
      error_->token = std::move(token);
      error_->value = std::move(value);
    }
    return nullptr;
  }

  // Operator id of the current token ("(end)", "(name)", "(literal)", "(regex)" or the operator).
  std::string Id() const {
    switch (node_.type) {
      case TT::kEnd: return "(end)";
      case TT::kOperator: return node_.value;
      case TT::kName: case TT::kVariable: return "(name)";
      case TT::kRegex: return "(regex)";
      default: return "(literal)";
    }
  }
  bool Is(std::string_view op) const { return node_.type == TT::kOperator && std::string_view(node_.value) == op; }
  int Lbp() const {
    if (node_.type != TT::kOperator) return 0;
    // Separators and closers never continue an expression.
    static constexpr std::string_view kStop[] = {":", ";", ",", ")", "]", "}", "..", "|"};
    for (std::string_view s : kStop)
      if (std::string_view(node_.value) == s) return 0;
    return BindingPower(node_.value);
  }

  // `id`, when not empty, is the operator the current token must be.
  void Advance(std::string_view id, bool infix) {
    if (failed_) return;
    if (!id.empty() && !Is(id)) {
      if (node_.type == TT::kEnd) {
        Fail("S0203", "Expected \"" + std::string(id) + "\" before end of expression", node_.position, "",
             std::string(id));
      } else {
        Fail("S0202", "Expected \"" + std::string(id) + "\", got \"" + node_.value + "\"", node_.position,
             node_.value, std::string(id));
      }
      return;
    }
    Token t;
    if (!lexer_.Next(infix, &t, error_)) {
      failed_ = true;
      return;
    }
    if (t.type == TT::kOperator && BindingPower(t.value) < 0) {
      Fail("S0204", "Unknown operator: \"" + t.value + "\"", t.position, t.value);
      return;
    }
    node_ = std::move(t);
  }

  Node* Expression(int rbp) {
    if (++depth_ > prog_->options.max_parse_depth) {
      return Fail("U1001", "Expression nested too deeply (parser depth limit " +
                               std::to_string(prog_->options.max_parse_depth) + ")",
                  node_.position);
    }
    Token t = node_;
    PCHK(Advance({}, true));
    Node* left = PT(Nud(t));
    while (rbp < Lbp()) {
      t = node_;
      PCHK(Advance({}, false));
      left = PT(Led(t, left));
    }
    depth_--;
    return left;
  }

  Node* Leaf(NT type, const Token& t) {
    Node* n = prog_->NewNode(type, t.position);
    n->str = t.value;
    return n;
  }

  Node* ObjectPairs(Node* n) {
    if (!Is("}")) {
      for (;;) {
        Node* k = PT(Expression(0));
        PCHK(Advance(":", false));
        Node* v = PT(Expression(0));
        n->pairs.emplace_back(k, v);
        if (!Is(",")) break;
        PCHK(Advance(",", false));
      }
    }
    PCHK(Advance("}", true));
    return n;
  }

  Node* Nud(const Token& t) {
    switch (t.type) {
      case TT::kEnd:
        return Fail("S0207", "Unexpected end of expression", t.position);
      case TT::kName: return Leaf(NT::kName, t);
      case TT::kVariable: return Leaf(NT::kVariable, t);
      case TT::kString: return Leaf(NT::kString, t);
      case TT::kNumber: {
        Node* n = Leaf(NT::kNumber, t);
        n->num = t.num;
        return n;
      }
      case TT::kValue: {
        Node* n = Leaf(NT::kValue, t);
        n->op = t.value;
        return n;
      }
      case TT::kRegex: {
        Node* n = Leaf(NT::kRegex, t);
        auto re = std::make_unique<Regex>();
        std::string err;
        if (!CompileRegex(t.value, t.flags, re.get(), &err)) {
          return Fail("S0303", "Invalid regular expression: " + err, t.position, t.value);
        }
        n->regex = re.get();
        prog_->regexes.push_back(std::move(re));
        return n;
      }
      case TT::kOperator: break;
    }
    std::string_view op = t.value;
    if (op == "and" || op == "or" || op == "in") {
      Node* n = Leaf(NT::kName, t);
      return n;
    }
    if (op == "-") {
      Node* n = prog_->NewNode(NT::kUnary, t.position);
      n->op = "-";
      n->expr = PT(Expression(70));
      return n;
    }
    if (op == "*") return prog_->NewNode(NT::kWildcard, t.position);
    if (op == "**") return prog_->NewNode(NT::kDescendant, t.position);
    if (op == "%") return prog_->NewNode(NT::kParent, t.position);
    if (op == "(") {
      Node* n = prog_->NewNode(NT::kBlock, t.position);
      while (!Is(")")) {
        if (node_.type == TT::kEnd) {
          return Fail("S0203", "Expected \")\" before end of expression", node_.position, "(end)", ")");
        }
        n->items.push_back(PT(Expression(0)));
        if (!Is(";")) break;
        PCHK(Advance(";", false));
      }
      PCHK(Advance(")", true));
      return n;
    }
    if (op == "[") {
      Node* n = prog_->NewNode(NT::kUnary, t.position);
      n->op = "[";
      if (!Is("]")) {
        for (;;) {
          Node* item = PT(Expression(0));
          if (Is("..")) {
            Node* range = prog_->NewNode(NT::kBinary, node_.position);
            range->op = "..";
            range->lhs = item;
            PCHK(Advance("..", false));
            range->rhs = PT(Expression(0));
            item = range;
          }
          n->items.push_back(item);
          if (!Is(",")) break;
          PCHK(Advance(",", false));
        }
      }
      PCHK(Advance("]", true));
      return n;
    }
    if (op == "{") {
      Node* n = prog_->NewNode(NT::kUnary, t.position);
      n->op = "{";
      return ObjectPairs(n);
    }
    if (op == "|") {
      Node* n = prog_->NewNode(NT::kTransform, t.position);
      n->expr = PT(Expression(0));
      PCHK(Advance("|", false));
      n->update = PT(Expression(0));
      if (Is(",")) {
        PCHK(Advance(",", false));
        n->otherwise = PT(Expression(0));
      }
      PCHK(Advance("|", false));
      return n;
    }
    return Fail("S0211", "The symbol " + std::string(op) + " cannot be used as a unary operator", t.position, std::string(op));
  }

  Node* Led(const Token& t, Node* left) {
    std::string_view op = t.value;
    // An open call or predicate at the end of the text: jsonata-js reports the missing closer.
    if (node_.type == TT::kEnd && t.type == TT::kOperator && (t.value == "(" || t.value == "[")) {
      const char* closer = t.value == "(" ? ")" : "]";
      return Fail("S0203", std::string("Expected \"") + closer + "\" before end of expression", node_.position,
                  "(end)", closer);
    }
    if (t.type != TT::kOperator) {
      return Fail("S0201", "Syntax error", t.position, t.value);
    }
    if (op == "(") {
      Node* n = prog_->NewNode(NT::kCall, t.position);
      n->lhs = left;
      if (!Is(")")) {
        for (;;) {
          if (Is("?")) {
            n->type = NT::kPartial;
            n->items.push_back(prog_->NewNode(NT::kPlaceholder, node_.position));
            PCHK(Advance("?", false));
          } else {
            n->items.push_back(PT(Expression(0)));
          }
          if (!Is(",")) break;
          PCHK(Advance(",", false));
        }
      }
      PCHK(Advance(")", true));
      if (left->type == NT::kName && (left->str == "function" || left->str == "\xCE\xBB")) {
        for (size_t i = 0; i < n->items.size(); ++i) {
          Node* a = n->items[i];
          if (a->type != NT::kVariable) {
            return Fail("S0208", "Parameter " + std::to_string(i + 1) + " of function definition must be a variable name (start with $)",
                        a->position, a->str, std::to_string(i + 1));
          }
          n->params.push_back(a->str);
        }
        n->type = NT::kLambda;
        n->items.clear();
        if (Is("<")) {
          int64_t sig_pos = node_.position;
          int depth = 1;
          std::string sig = "<";
          while (depth > 0 && !Is("{") && node_.type != TT::kEnd) {
            PCHK(Advance({}, false));
            if (Is(">")) depth--;
            else if (Is("<")) depth++;
            sig += node_.value;
          }
          PCHK(Advance(">", false));
          auto s = std::make_unique<Signature>();
          Error serr;
          if (!ParseSignature(sig, s.get(), &serr)) {
            return Fail(serr.code.c_str(), serr.message, sig_pos + serr.position, "", serr.value);
          }
          n->signature = s.get();
          prog_->signatures.push_back(std::move(s));
        }
        PCHK(Advance("{", false));
        n->body = PT(Expression(0));
        PCHK(Advance("}", true));
      }
      return n;
    }
    if (op == "[") {
      if (Is("]")) {
        Node* step = left;
        while (step && step->type == NT::kBinary && step->op == "[") step = step->lhs;
        step->keep_array = true;
        PCHK(Advance("]", true));
        return left;
      }
      Node* n = prog_->NewNode(NT::kBinary, t.position);
      n->op = "[";
      n->lhs = left;
      n->rhs = PT(Expression(0));
      PCHK(Advance("]", true));
      return n;
    }
    if (op == "{") {
      Node* n = prog_->NewNode(NT::kBinary, t.position);
      n->op = "{";
      n->lhs = left;
      return ObjectPairs(n);
    }
    if (op == "^") {
      Node* n = prog_->NewNode(NT::kBinary, t.position);
      n->op = "^";
      n->lhs = left;
      PCHK(Advance("(", false));
      for (;;) {
        SortTerm term;
        if (Is("<")) {
          PCHK(Advance("<", false));
        } else if (Is(">")) {
          term.descending = true;
          PCHK(Advance(">", false));
        }
        term.expr = PT(Expression(0));
        n->terms.push_back(term);
        if (!Is(",")) break;
        PCHK(Advance(",", false));
      }
      PCHK(Advance(")", true));
      return n;
    }
    if (op == ":=") {
      if (left->type != NT::kVariable) {
        return Fail("S0212", "The left side of := must be a variable name (start with $)", left->position,
                    left->str);
      }
      Node* n = prog_->NewNode(NT::kBinary, t.position);
      n->op = ":=";
      n->lhs = left;
      n->rhs = PT(Expression(BindingPower(":=") - 1));
      return n;
    }
    if (op == "@" || op == "#") {
      Node* n = prog_->NewNode(NT::kBinary, t.position);
      n->op = op;
      n->lhs = left;
      n->rhs = PT(Expression(BindingPower(op)));
      if (n->rhs->type != NT::kVariable) {
        return Fail("S0214", "The right side of " + std::string(op) + " must be a variable name (start with $)",
                    n->rhs->position, std::string(op));
      }
      return n;
    }
    if (op == "?") {
      Node* n = prog_->NewNode(NT::kCondition, t.position);
      n->cond = left;
      n->then = PT(Expression(0));
      if (Is(":")) {
        PCHK(Advance(":", false));
        n->otherwise = PT(Expression(0));
      }
      return n;
    }
    if (op == "?:" || op == "??") {
      Node* n = prog_->NewNode(op == "?:" ? NT::kElvis : NT::kCoalesce, t.position);
      n->lhs = left;
      n->rhs = PT(Expression(BindingPower(op)));
      return n;
    }
    static const char* kBinary[] = {".", "+", "-", "*", "/", "%", "=", "<", ">", "!=", "<=", ">=", "&",
                                    "and", "or", "in", "~>", ".."};
    for (const char* b : kBinary) {
      if (op == b) {
        Node* n = prog_->NewNode(NT::kBinary, t.position);
        n->op = op;
        n->lhs = left;
        n->rhs = PT(Expression(BindingPower(op)));
        return n;
      }
    }
    return Fail("S0201", "Syntax error: \"" + std::string(op) + "\"", t.position, std::string(op));
  }

  // ---- post-processing -------------------------------------------------------------------

  Node* Path(Node* step) {
    Node* p = prog_->NewNode(NT::kPath, step->position);
    p->items.push_back(step);
    return p;
  }

  Slot* SeekParent(Node* node, Slot* slot) {
    switch (node->type) {
      case NT::kName:
      case NT::kWildcard:
        slot->level--;
        if (slot->level == 0) {
          if (node->ancestor == nullptr) {
            node->ancestor = slot;
          } else {
            // Reuse the label already bound here for the other reference.
            ancestry_[slot->index]->slot->label = node->ancestor->label;
            node->ancestor = slot;
          }
          node->tuple = true;
        }
        break;
      case NT::kParent:
        slot->level++;
        break;
      case NT::kBlock:
        if (!node->items.empty()) {
          node->tuple = true;
          slot = SeekParent(node->items.back(), slot);
        }
        break;
      case NT::kPath: {
        node->tuple = true;
        int index = static_cast<int>(node->items.size()) - 1;
        slot = SeekParent(node->items[index--], slot);
        while (slot && slot->level > 0 && index >= 0) slot = SeekParent(node->items[index--], slot);
        break;
      }
      default:
        Fail("S0217", "The object representing the 'parent' cannot be derived from this expression",
             node->position, TypeName(node->type));
        return nullptr;
    }
    return slot;
  }

  static std::string TypeName(NT t) {
    switch (t) {
      case NT::kBinary: return "binary";
      case NT::kUnary: return "unary";
      case NT::kCall: return "function";
      case NT::kString: return "string";
      case NT::kNumber: return "number";
      case NT::kValue: return "value";
      case NT::kVariable: return "variable";
      case NT::kCondition: return "condition";
      case NT::kLambda: return "lambda";
      case NT::kSort: return "sort";
      default: return "expression";
    }
  }

  void PushAncestry(Node* result, Node* value) {
    if (value->has_seeking_parent || value->type == NT::kParent) {
      std::vector<Slot*> slots = value->seeking_parent;
      if (value->type == NT::kParent) slots.push_back(value->slot);
      result->has_seeking_parent = true;
      for (Slot* s : slots) result->seeking_parent.push_back(s);
    }
  }

  void ResolveAncestry(Node* path) {
    int index = static_cast<int>(path->items.size()) - 1;
    Node* laststep = path->items[index];
    std::vector<Slot*> slots = laststep->seeking_parent;
    if (laststep->type == NT::kParent) slots.push_back(laststep->slot);
    for (Slot* slot : slots) {
      index = static_cast<int>(path->items.size()) - 2;
      while (slot->level > 0) {
        if (index < 0) {
          path->has_seeking_parent = true;
          path->seeking_parent.push_back(slot);
          break;
        }
        Node* step = path->items[index--];
        while (index >= 0 && !step->focus.empty() && !path->items[index]->focus.empty()) step = path->items[index--];
        slot = SeekParent(step, slot);
        if (failed_ || !slot) return;
      }
    }
  }

  Node* Process(Node* expr) {
    if (++depth_ > prog_->options.max_parse_depth) {
      return Fail("U1001", "Expression nested too deeply", expr->position);
    }
    Node* result = PT(ProcessInner(expr));
    depth_--;
    if (expr->keep_array) result->keep_array = true;
    return result;
  }

  Node* ProcessInner(Node* expr) {
    switch (expr->type) {
      case NT::kBinary: {
        std::string_view op = expr->op;
        if (op == ".") {
          Node* lstep = PT(Process(expr->lhs));
          Node* result = lstep->type == NT::kPath ? lstep : Path(lstep);
          if (lstep->type == NT::kParent) {
            result->has_seeking_parent = true;
            result->seeking_parent = {lstep->slot};
          }
          Node* rest = PT(Process(expr->rhs));
          if (rest->type == NT::kCall && rest->lhs->type == NT::kPath && rest->lhs->items.size() == 1 &&
              rest->lhs->items[0]->type == NT::kName && result->items.back()->type == NT::kCall) {
            result->items.back()->next_function = rest->lhs->items[0]->str;
          }
          if (rest->type == NT::kPath) {
            for (Node* s : rest->items) result->items.push_back(s);
          } else {
            if (!rest->predicate.empty()) {
              for (Node* p : rest->predicate) {
                Stage st;
                st.expr = p;
                st.position = p->position;
                rest->stages.push_back(st);
              }
              rest->predicate.clear();
            }
            result->items.push_back(rest);
          }
          for (Node* step : result->items) {
            if (step->type == NT::kNumber || step->type == NT::kValue) {
              std::string v = step->type == NT::kNumber ? step->str : step->op;
              return Fail("S0213", "The literal value " + v + " cannot be used as a step within a path expression",
                          step->position, "", v);
            }
            if (step->type == NT::kString) step->type = NT::kName;
          }
          for (Node* step : result->items) {
            if (step->keep_array) result->keep_singleton_array = true;
          }
          Node* first = result->items.front();
          if (first->type == NT::kUnary && first->op == "[") first->consarray = true;
          Node* last = result->items.back();
          if (last->type == NT::kUnary && last->op == "[") last->consarray = true;
          ResolveAncestry(result);
          if (failed_) return nullptr;
          return result;
        }
        if (op == "[") {
          Node* result = PT(Process(expr->lhs));
          Node* step = result;
          bool stages = false;
          if (result->type == NT::kPath) {
            step = result->items.back();
            stages = true;
          }
          if (step->group) {
            return Fail("S0209", "A predicate cannot follow a grouping expression in a step", expr->position);
          }
          Node* pred = PT(Process(expr->rhs));
          if (pred->has_seeking_parent) {
            for (Slot* slot : pred->seeking_parent) {
              if (slot->level == 1) {
                SeekParent(step, slot);
                if (failed_) return nullptr;
              } else {
                slot->level--;
              }
            }
            PushAncestry(step, pred);
          }
          if (stages) {
            Stage st;
            st.expr = pred;
            st.position = expr->position;
            step->stages.push_back(st);
          } else {
            step->predicate.push_back(pred);
          }
          return result;
        }
        if (op == "{") {
          Node* result = PT(Process(expr->lhs));
          if (result->group) {
            return Fail("S0210", "Each step can only have one grouping expression", expr->position);
          }
          auto g = std::make_unique<GroupBy>();
          g->position = expr->position;
          for (auto& pr : expr->pairs) {
            Node* k = PT(Process(pr.first));
            Node* v = PT(Process(pr.second));
            g->pairs.emplace_back(k, v);
          }
          result->group = std::move(g);
          return result;
        }
        if (op == "^") {
          Node* result = PT(Process(expr->lhs));
          if (result->type != NT::kPath) result = Path(result);
          Node* sort = prog_->NewNode(NT::kSort, expr->position);
          for (auto& term : expr->terms) {
            SortTerm st;
            st.descending = term.descending;
            st.expr = PT(Process(term.expr));
            PushAncestry(sort, st.expr);
            sort->terms.push_back(st);
          }
          result->items.push_back(sort);
          ResolveAncestry(result);
          if (failed_) return nullptr;
          return result;
        }
        if (op == ":=") {
          Node* result = prog_->NewNode(NT::kBind, expr->position);
          result->lhs = PT(Process(expr->lhs));
          result->rhs = PT(Process(expr->rhs));
          PushAncestry(result, result->rhs);
          return result;
        }
        if (op == "@") {
          Node* result = PT(Process(expr->lhs));
          Node* step = result;
          if (result->type == NT::kPath) step = result->items.back();
          if (!step->stages.empty() || !step->predicate.empty()) {
            return Fail("S0215", "A context variable binding must precede any predicates on a step",
                        expr->position);
          }
          if (step->type == NT::kSort) {
            return Fail("S0216", "A context variable binding must precede the 'order-by' clause on a step",
                        expr->position);
          }
          if (expr->keep_array) step->keep_array = true;
          step->focus = expr->rhs->str;
          step->tuple = true;
          return result;
        }
        if (op == "#") {
          Node* result = PT(Process(expr->lhs));
          Node* step = result;
          if (result->type == NT::kPath) {
            step = result->items.back();
          } else {
            result = Path(result);
            if (!step->predicate.empty()) {
              for (Node* p : step->predicate) {
                Stage st;
                st.expr = p;
                st.position = p->position;
                step->stages.push_back(st);
              }
              step->predicate.clear();
            }
          }
          if (step->stages.empty()) {
            step->index_var = expr->rhs->str;
          } else {
            Stage st;
            st.is_index = true;
            st.var = expr->rhs->str;
            st.position = expr->position;
            step->stages.push_back(st);
          }
          step->tuple = true;
          return result;
        }
        if (op == "~>") {
          Node* result = prog_->NewNode(NT::kApply, expr->position);
          result->lhs = PT(Process(expr->lhs));
          result->rhs = PT(Process(expr->rhs));
          result->keep_array = result->lhs->keep_array || result->rhs->keep_array;
          return result;
        }
        Node* result = prog_->NewNode(NT::kBinary, expr->position);
        result->op = op;
        result->lhs = PT(Process(expr->lhs));
        result->rhs = PT(Process(expr->rhs));
        PushAncestry(result, result->lhs);
        PushAncestry(result, result->rhs);
        return result;
      }
      case NT::kCoalesce:
      case NT::kElvis: {
        Node* result = prog_->NewNode(expr->type, expr->position);
        result->lhs = PT(Process(expr->lhs));
        result->rhs = PT(Process(expr->rhs));
        PushAncestry(result, result->lhs);
        PushAncestry(result, result->rhs);
        return result;
      }
      case NT::kUnary: {
        Node* result = prog_->NewNode(NT::kUnary, expr->position);
        result->op = expr->op;
        if (expr->op == "[") {
          for (Node* item : expr->items) {
            Node* v = PT(Process(item));
            PushAncestry(result, v);
            result->items.push_back(v);
          }
        } else if (expr->op == "{") {
          for (auto& pr : expr->pairs) {
            Node* k = PT(Process(pr.first));
            PushAncestry(result, k);
            Node* v = PT(Process(pr.second));
            PushAncestry(result, v);
            result->pairs.emplace_back(k, v);
          }
        } else {
          result->expr = PT(Process(expr->expr));
          if (expr->op == "-" && result->expr->type == NT::kNumber) {
            Node* num = result->expr;
            num->num = -num->num;
            num->str = "-" + num->str;
            return num;
          }
          PushAncestry(result, result->expr);
        }
        return result;
      }
      case NT::kCall:
      case NT::kPartial: {
        Node* result = prog_->NewNode(expr->type, expr->position);
        for (Node* a : expr->items) {
          Node* v = PT(Process(a));
          PushAncestry(result, v);
          result->items.push_back(v);
        }
        result->lhs = PT(Process(expr->lhs));
        return result;
      }
      case NT::kLambda: {
        Node* result = prog_->NewNode(NT::kLambda, expr->position);
        result->params = expr->params;
        result->signature = expr->signature;
        Node* body = PT(Process(expr->body));
        result->body = TailCallOptimize(body);
        return result;
      }
      case NT::kCondition: {
        Node* result = prog_->NewNode(NT::kCondition, expr->position);
        result->cond = PT(Process(expr->cond));
        PushAncestry(result, result->cond);
        result->then = PT(Process(expr->then));
        PushAncestry(result, result->then);
        if (expr->otherwise) {
          result->otherwise = PT(Process(expr->otherwise));
          PushAncestry(result, result->otherwise);
        }
        return result;
      }
      case NT::kTransform: {
        Node* result = prog_->NewNode(NT::kTransform, expr->position);
        result->expr = PT(Process(expr->expr));
        result->update = PT(Process(expr->update));
        if (expr->otherwise) result->otherwise = PT(Process(expr->otherwise));
        return result;
      }
      case NT::kBlock: {
        Node* result = prog_->NewNode(NT::kBlock, expr->position);
        for (Node* e : expr->items) {
          Node* v = PT(Process(e));
          PushAncestry(result, v);
          if (v->consarray || (v->type == NT::kPath && v->items[0]->consarray)) result->consarray = true;
          result->items.push_back(v);
        }
        return result;
      }
      case NT::kName: {
        Node* result = Path(expr);
        if (expr->keep_array) result->keep_singleton_array = true;
        return result;
      }
      case NT::kParent: {
        auto slot = std::make_unique<Slot>();
        slot->label = "!" + std::to_string(ancestor_label_++);
        slot->level = 1;
        slot->index = ancestor_index_++;
        Node* result = prog_->NewNode(NT::kParent, expr->position);
        result->slot = slot.get();
        prog_->slots.push_back(std::move(slot));
        ancestry_.push_back(result);
        return result;
      }
      case NT::kPlaceholder:
      case NT::kString:
      case NT::kNumber:
      case NT::kValue:
      case NT::kWildcard:
      case NT::kDescendant:
      case NT::kVariable:
      case NT::kRegex:
        return expr;
      default:
        return Fail("S0206", "Unknown expression type", expr->position, expr->op);
    }
  }

  Node* TailCallOptimize(Node* expr) {
    if (expr->type == NT::kCall && expr->predicate.empty()) {
      Node* thunk = prog_->NewNode(NT::kLambda, expr->position);
      thunk->thunk = true;
      thunk->body = expr;
      return thunk;
    }
    if (expr->type == NT::kCondition) {
      expr->then = TailCallOptimize(expr->then);
      if (expr->otherwise) expr->otherwise = TailCallOptimize(expr->otherwise);
      return expr;
    }
    if (expr->type == NT::kBlock && !expr->items.empty()) {
      expr->items.back() = TailCallOptimize(expr->items.back());
      return expr;
    }
    return expr;
  }

  Program* prog_;
  Error* error_;
  Lexer lexer_;
  Token node_;
  bool failed_ = false;
  uint32_t depth_ = 0;
  int ancestor_label_ = 0;
  int ancestor_index_ = 0;
  std::vector<Node*> ancestry_;
};

}  // namespace

bool ParseProgram(Program* program, Error* error) {
  Parser parser(program, error);
  Node* root = parser.Parse();
  if (!root) {
    if (error->code.empty()) error->code = "S0201";
    return false;
  }
  program->root = root;
  Annotate(program);
  return true;
}

}  // namespace ec::jsonata::internal
