#include "delivery/subscription.h"

#include "delivery/glob.h"
#include "delivery/http_client.h"
#include "delivery/signature.h"
#include "json/writer.h"

namespace ec::delivery {
namespace {

Status FieldError(std::string_view field, const json::Value& v, std::string_view expected) {
  std::string quoted = json::ToJson(v);
  if (quoted.size() > 80) quoted = quoted.substr(0, 77) + "...";
  return InvalidArgument("subscription field \"" + std::string(field) + "\": got " + quoted +
                         ", expected " + std::string(expected));
}

Status StringList(std::string_view field, const json::Value& v, std::vector<std::string>* out) {
  out->clear();
  if (v.is_string()) {
    out->emplace_back(v.string());
    return Status::Ok();
  }
  if (!v.is_array()) return FieldError(field, v, "an array of strings");
  for (const json::Value& e : v.array()) {
    if (!e.is_string() || e.string().empty()) {
      return FieldError(field, v, "an array of non-empty strings");
    }
    out->emplace_back(e.string());
  }
  return Status::Ok();
}

bool ValidHeaderName(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  }
  return true;
}

void AppendStringArray(const std::vector<std::string>& v, std::string* out) {
  *out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) *out += ',';
    json::AppendQuoted(v[i], out);
  }
  *out += ']';
}

}  // namespace

Result<Subscription> SubscriptionFromJson(const json::Value& body, const Subscription* base) {
  if (!body.is_object()) return FieldError("(body)", body, "a JSON object");
  Subscription s = base ? *base : Subscription();
  bool secret_given = false;
  for (const json::Member& m : body.object()) {
    const json::Value& v = m.value;
    std::string_view k = m.key;
    if (k == "url") {
      if (!v.is_string()) return FieldError(k, v, "an http:// or https:// URL string");
      auto url = ParseUrl(v.string());
      if (!url.ok()) return url.status();
      s.url = std::string(v.string());
    } else if (k == "types") {
      EC_RETURN_IF_ERROR(StringList(k, v, &s.types));
    } else if (k == "topics") {
      EC_RETURN_IF_ERROR(StringList(k, v, &s.topics));
    } else if (k == "filter") {
      if (!v.is_string() && !v.is_null()) return FieldError(k, v, "a CEL expression string");
      s.filter = v.is_string() ? std::string(v.string()) : "";
    } else if (k == "secret") {
      if (!v.is_string()) return FieldError(k, v, "\"whsec_\" + base64, or omit it to generate one");
      auto key = DecodeSecret(v.string());
      if (!key.ok()) return key.status();
      s.secret = std::string(v.string());
      if (!s.secret.starts_with(kSecretPrefix)) s.secret = std::string(kSecretPrefix) + s.secret;
      secret_given = true;
    } else if (k == "headers") {
      if (!v.is_object()) return FieldError(k, v, "an object of header names to strings");
      s.headers.clear();
      for (const json::Member& h : v.object()) {
        if (!ValidHeaderName(h.key) || !h.value.is_string()) {
          return FieldError(k, v, "an object of header names (letters, digits, '-') to strings");
        }
        std::string name(h.key);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name.starts_with("webhook-") || name.starts_with("ce-") || name == "content-type" ||
            name == "host" || name == "content-length") {
          return FieldError(k, v, "no header the delivery sets itself (webhook-*, ce-*, host, "
                                  "content-type, content-length)");
        }
        s.headers.emplace_back(std::move(name), std::string(h.value.string()));
      }
    } else if (k == "auth") {
      if (v.is_null()) {
        s.auth = {};
        continue;
      }
      const json::Value* type = v.Find("type");
      if (!v.is_object() || !type || !type->is_string()) {
        return FieldError(k, v, "{\"type\": \"basic\", \"username\", \"password\"} or "
                                "{\"type\": \"bearer\", \"token\"}");
      }
      WebhookAuth a;
      a.type = std::string(type->string());
      auto str = [&](std::string_view name, std::string* out) {
        const json::Value* f = v.Find(name);
        if (!f || !f->is_string()) return false;
        *out = std::string(f->string());
        return true;
      };
      if (a.type == "basic") {
        if (!str("username", &a.username) || !str("password", &a.password)) {
          return FieldError(k, v, "basic auth with string \"username\" and \"password\"");
        }
      } else if (a.type == "bearer") {
        if (!str("token", &a.token)) return FieldError(k, v, "bearer auth with a string \"token\"");
      } else {
        return FieldError(k, v, "auth type \"basic\" or \"bearer\"");
      }
      s.auth = a;
    } else if (k == "rate_limit") {
      if (!v.is_number() || v.number() < 0) {
        return FieldError(k, v, "deliveries per second, a number >= 0 (0 = unlimited)");
      }
      s.rate_limit = v.number();
    } else if (k == "max_in_flight") {
      if (!v.is_number() || v.number() < 1 || v.number() > 1024 ||
          v.number() != static_cast<int>(v.number())) {
        return FieldError(k, v, "an integer 1..1024");
      }
      s.max_in_flight = static_cast<int>(v.number());
    } else if (k == "mode") {
      if (v.is_string() && v.string() == "binary") {
        s.mode = ContentMode::kBinary;
      } else if (v.is_string() && v.string() == "structured") {
        s.mode = ContentMode::kStructured;
      } else {
        return FieldError(k, v, "\"binary\" or \"structured\"");
      }
    } else if (k == "start") {
      if (!v.is_string() || (v.string() != "latest" && v.string() != "earliest")) {
        return FieldError(k, v, "\"latest\" or \"earliest\"");
      }
      s.start = std::string(v.string());
    } else if (k == "tls_ca_file") {
      if (!v.is_string() && !v.is_null()) {
        return FieldError(k, v, "the path of a PEM file with the receiver's CA certificate(s)");
      }
      s.tls_ca_file = v.is_string() ? std::string(v.string()) : "";
    } else if (k == "paused") {
      if (!v.is_bool()) return FieldError(k, v, "true or false");
      s.paused = v.bool_value();
    } else if (k == "id" || k == "created_ms" || k == "disabled_reason") {
      // Server-assigned; ignored on input so a GET answer can be sent back as a PATCH.
    } else {
      return InvalidArgument("subscription: unknown field \"" + std::string(k) +
                             "\"; known fields: url, types, topics, filter, secret, headers, "
                             "auth, rate_limit, max_in_flight, mode, start, tls_ca_file, paused");
    }
  }
  if (s.url.empty()) return InvalidArgument("subscription: \"url\" is required");
  if (!base && !secret_given) {
    EC_ASSIGN_OR_RETURN(s.secret, GenerateSecret());
  }
  return s;
}

std::string SubscriptionToJson(const Subscription& s, bool with_secret) {
  std::string o = "{\"id\":";
  json::AppendQuoted(s.id, &o);
  o += ",\"url\":";
  json::AppendQuoted(s.url, &o);
  o += ",\"types\":";
  AppendStringArray(s.types, &o);
  o += ",\"topics\":";
  AppendStringArray(s.topics, &o);
  if (!s.filter.empty()) {
    o += ",\"filter\":";
    json::AppendQuoted(s.filter, &o);
  }
  if (with_secret) {
    o += ",\"secret\":";
    json::AppendQuoted(s.secret, &o);
  }
  o += ",\"headers\":{";
  for (size_t i = 0; i < s.headers.size(); ++i) {
    if (i) o += ',';
    json::AppendQuoted(s.headers[i].first, &o);
    o += ':';
    json::AppendQuoted(s.headers[i].second, &o);
  }
  o += '}';
  if (!s.auth.type.empty()) {
    o += ",\"auth\":{\"type\":";
    json::AppendQuoted(s.auth.type, &o);
    if (s.auth.type == "basic") {
      o += ",\"username\":";
      json::AppendQuoted(s.auth.username, &o);
      if (with_secret) {
        o += ",\"password\":";
        json::AppendQuoted(s.auth.password, &o);
      }
    } else if (with_secret) {
      o += ",\"token\":";
      json::AppendQuoted(s.auth.token, &o);
    }
    o += '}';
  }
  o += ",\"rate_limit\":";
  json::AppendJsNumber(s.rate_limit, &o);
  o += ",\"max_in_flight\":";
  json::AppendJsNumber(s.max_in_flight, &o);
  o += s.mode == ContentMode::kBinary ? ",\"mode\":\"binary\"" : ",\"mode\":\"structured\"";
  o += ",\"start\":";
  json::AppendQuoted(s.start, &o);
  if (!s.tls_ca_file.empty()) {
    o += ",\"tls_ca_file\":";
    json::AppendQuoted(s.tls_ca_file, &o);
  }
  o += s.paused ? ",\"paused\":true" : ",\"paused\":false";
  if (!s.disabled_reason.empty()) {
    o += ",\"disabled_reason\":";
    json::AppendQuoted(s.disabled_reason, &o);
  }
  o += ",\"created_ms\":";
  json::AppendJsNumber(static_cast<double>(s.created_ms), &o);
  o += '}';
  return o;
}

bool ReadsTopic(const Subscription& s, std::string_view topic) {
  if (!s.topics.empty()) {
    for (const std::string& t : s.topics) {
      if (GlobMatch(t, topic)) return true;
    }
    return false;
  }
  // Internal topics and raw ingest topics carry no CloudEvents.
  return !topic.starts_with("eventception.") && !topic.starts_with("__") &&
         topic != "api-logs" && !topic.starts_with("api-logs.");
}

bool MatchesType(const Subscription& s, std::string_view type) {
  if (s.types.empty()) return true;
  for (const std::string& g : s.types) {
    if (GlobMatch(g, type)) return true;
  }
  return false;
}

}  // namespace ec::delivery
