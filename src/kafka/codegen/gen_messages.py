#!/usr/bin/env python3
"""Generates C++ structs with Decode/Encode for every version from src/kafka/messages/*.def.

Usage: gen_messages.py OUT_DIR DEF_FILE...
Writes OUT_DIR/kafka/messages.h, OUT_DIR/kafka/messages.cc and OUT_DIR/kafka/messages_sample.h
(the last fills every field of a version with varied values, for round-trip tests).
"""
import os
import re
import sys

PRIMS = {
    'bool': ('bool', 'Bool', 'false'),
    'int8': ('int8_t', 'Int8', '0'),
    'int16': ('int16_t', 'Int16', '0'),
    'int32': ('int32_t', 'Int32', '0'),
    'int64': ('int64_t', 'Int64', '0'),
    'uint16': ('uint16_t', 'Uint16', '0'),
    'float64': ('double', 'Float64', '0'),
    'uuid': ('Uuid', 'Uuid', '{}'),
}
VARLEN = ('string', 'bytes', 'records')


class Field:
    def __init__(self, name, typ, nullable, vlo, vhi, tag, default, lineno):
        self.name, self.typ, self.nullable = name, typ, nullable
        self.vlo, self.vhi, self.tag, self.default = vlo, vhi, tag, default
        self.lineno = lineno
        self.fields = []  # for []Struct
        self.struct = None

    @property
    def is_array(self):
        return self.typ.startswith('[]')

    @property
    def elem(self):
        return self.typ[2:]


class Message:
    def __init__(self, name, api, vlo, vhi, flex, response):
        self.name, self.api, self.vlo, self.vhi = name, api, vlo, vhi
        self.flex, self.response = flex, response
        self.fields = []


def fail(path, lineno, msg):
    sys.exit(f'{path}:{lineno}: {msg}')


def parse_range(spec, path, lineno):
    m = re.fullmatch(r'v(\d+)(\+|-(\d+))?', spec)
    if not m:
        fail(path, lineno, f'bad version range "{spec}" (use v3+, v0-2 or v5)')
    lo = int(m.group(1))
    if m.group(2) == '+':
        return lo, 32767
    if m.group(3):
        return lo, int(m.group(3))
    return lo, lo


def parse(path):
    msgs = []
    stack = []  # (indent, list_of_fields)
    with open(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip()
            if not line.strip() or line.strip().startswith('#'):
                continue
            indent = len(line) - len(line.lstrip(' '))
            words = line.split()
            if indent == 0:
                if words[0] != 'message':
                    fail(path, lineno, f'expected "message", found "{words[0]}"')
                attrs = dict(w.split('=', 1) for w in words[2:] if '=' in w)
                lo, hi = (int(x) for x in attrs['versions'].split('-'))
                flex = attrs.get('flexible', 'none')
                flex = 32767 if flex == 'none' else int(flex.rstrip('+'))
                msg = Message(words[1], int(attrs['api']), lo, hi, flex, 'response' in words)
                msgs.append(msg)
                stack = [(0, msg.fields)]
                continue
            if indent % 2:
                fail(path, lineno, 'indent by two spaces')
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if not stack:
                fail(path, lineno, 'field outside a message')
            name, typ = words[0], words[1]
            nullable = typ.endswith('?')
            typ = typ.rstrip('?')
            vlo, vhi, tag, default = 0, 32767, None, None
            for w in words[2:]:
                if w.startswith('v'):
                    vlo, vhi = parse_range(w, path, lineno)
                elif w.startswith('tag='):
                    tag = int(w[4:])
                elif w.startswith('default='):
                    default = w[8:]
                else:
                    fail(path, lineno, f'unknown attribute "{w}"')
            base = typ[2:] if typ.startswith('[]') else typ
            if base not in PRIMS and base not in VARLEN and not base[0].isupper():
                fail(path, lineno, f'unknown type "{typ}"')
            fld = Field(name, typ, nullable, vlo, vhi, tag, default, lineno)
            stack[-1][1].append(fld)
            if typ.startswith('[]') and base[0].isupper():
                fld.struct = base
                stack.append((indent, fld.fields))
    return msgs


def cpp_elem_type(fld_typ):
    if fld_typ in PRIMS:
        return PRIMS[fld_typ][0]
    if fld_typ in ('string', 'bytes'):
        return 'std::string'
    if fld_typ == 'records':
        return 'Records'
    return fld_typ


def cpp_type(f):
    if f.is_array:
        t = f'std::vector<{cpp_elem_type(f.elem)}>'
    else:
        t = cpp_elem_type(f.typ)
    if f.nullable and f.typ != 'records':
        t = f'std::optional<{t}>'
    return t


def cpp_default(f):
    if f.default is None:
        return '{}'
    d = f.default
    if d == '-2147483648':
        return ' = INT32_MIN'
    return f' = {d}'


def cond(f, top):
    parts = []
    if f.vlo > 0:
        parts.append(f'version >= {f.vlo}')
    if f.vhi < 32767:
        parts.append(f'version <= {f.vhi}')
    return ' && '.join(parts)


class Gen:
    def __init__(self):
        self.h = []
        self.cc = []
        self.sample = []

    def struct_decl(self, name, fields, indent, msg=None):
        p = ' ' * indent
        self.h.append(f'{p}struct {name} {{')
        for f in fields:
            if f.struct:
                self.struct_decl(f.struct, f.fields, indent + 2)
        if msg:
            self.h.append(f'{p}  static constexpr int16_t kApiKey = {msg.api};')
            self.h.append(f'{p}  static constexpr int16_t kMinVersion = {msg.vlo};')
            self.h.append(f'{p}  static constexpr int16_t kMaxVersion = {msg.vhi};')
            self.h.append(f'{p}  static constexpr int16_t kFlexibleVersion = {msg.flex};')
            self.h.append(f'{p}  static constexpr bool kIsRequest = {"false" if msg.response else "true"};')
            self.h.append(f'{p}  static bool IsFlexible(int16_t version) {{ return version >= kFlexibleVersion; }}')
        for f in fields:
            self.h.append(f'{p}  {cpp_type(f)} {f.name}{cpp_default(f)};')
        if msg:
            self.h.append(f'{p}  // Reads this message at `version`; fails on truncated or malformed input.')
            self.h.append(f'{p}  Status Decode(Reader& r, int16_t version);')
            self.h.append(f'{p}  void Encode(Writer& w, int16_t version) const;')
        self.h.append(f'{p}  void DecodeBody(Reader& r, int16_t version, bool flexible);')
        self.h.append(f'{p}  void EncodeBody(Writer& w, int16_t version, bool flexible) const;')
        self.h.append(f'{p}  bool operator==(const {name}&) const = default;')
        self.h.append(f'{p}}};')

    def decode_value(self, f, target, out, ind):
        p = ' ' * ind
        t = f.typ
        if t in PRIMS:
            out.append(f'{p}{target} = r.Read{PRIMS[t][1]}();')
        elif t in ('string', 'bytes'):
            kind = 'String' if t == 'string' else 'Bytes'
            if f.nullable:
                out.append(f'{p}{target} = r.ReadNullable{kind}(flexible);')
            else:
                out.append(f'{p}{target} = r.Read{kind}(flexible);')
        elif t == 'records':
            out.append(f'{p}{target} = r.ReadRecords(flexible);')
        elif f.is_array:
            out.append(f'{p}{{')
            out.append(f'{p}  int32_t n = r.ReadArrayLength(flexible);')
            if f.nullable:
                out.append(f'{p}  if (n < 0) {{ {target}.reset(); }} else {{')
                out.append(f'{p}  {target}.emplace();')
                vec = f'(*{target})'
            else:
                out.append(f'{p}  if (n < 0) n = 0;')
                out.append(f'{p}  {{')
                vec = target
            out.append(f'{p}  // Grows with what was actually read: a lying length cannot allocate.')
            out.append(f'{p}  {vec}.reserve(static_cast<size_t>(std::min<int32_t>(n, 64)));')
            out.append(f'{p}  for (int32_t i = 0; i < n && r.ok(); ++i) {{')
            e = f.elem
            if f.struct:
                out.append(f'{p}    {vec}.emplace_back().DecodeBody(r, version, flexible);')
            elif e in PRIMS:
                out.append(f'{p}    {vec}.push_back(r.Read{PRIMS[e][1]}());')
            elif e == 'string':
                out.append(f'{p}    {vec}.push_back(r.ReadString(flexible));')
            elif e == 'bytes':
                out.append(f'{p}    {vec}.push_back(r.ReadBytes(flexible));')
            out.append(f'{p}  }}')
            out.append(f'{p}  if (!r.ok()) {vec}.clear();')
            out.append(f'{p}  }}')
            out.append(f'{p}}}')

    def encode_value(self, f, src, out, ind):
        p = ' ' * ind
        t = f.typ
        if t in PRIMS:
            out.append(f'{p}w.Write{PRIMS[t][1]}({src});')
        elif t in ('string', 'bytes'):
            kind = 'String' if t == 'string' else 'Bytes'
            if f.nullable:
                out.append(f'{p}w.WriteNullable{kind}({src}, flexible);')
            else:
                out.append(f'{p}w.Write{kind}({src}, flexible);')
        elif t == 'records':
            out.append(f'{p}w.WriteRecords({src}, flexible);')
        elif f.is_array:
            out.append(f'{p}{{')
            if f.nullable:
                out.append(f'{p}  if (!{src}) {{ w.WriteArrayLength(-1, flexible); }} else {{')
                vec = f'(*{src})'
            else:
                out.append(f'{p}  {{')
                vec = src
            out.append(f'{p}  w.WriteArrayLength(static_cast<int32_t>({vec}.size()), flexible);')
            out.append(f'{p}  for (const auto& e : {vec}) {{')
            el = f.elem
            if f.struct:
                out.append(f'{p}    e.EncodeBody(w, version, flexible);')
            elif el in PRIMS:
                out.append(f'{p}    w.Write{PRIMS[el][1]}(e);')
            elif el == 'string':
                out.append(f'{p}    w.WriteString(e, flexible);')
            elif el == 'bytes':
                out.append(f'{p}    w.WriteBytes(e, flexible);')
            out.append(f'{p}  }}')
            out.append(f'{p}  }}')
            out.append(f'{p}}}')

    def struct_impl(self, qual, fields, msg=None):
        for f in fields:
            if f.struct:
                self.struct_impl(f'{qual}::{f.struct}', f.fields)
        cc = self.cc
        regular = [f for f in fields if f.tag is None]
        tagged = [f for f in fields if f.tag is not None]
        # Decode
        cc.append(f'void {qual}::DecodeBody(Reader& r, int16_t version, bool flexible) {{')
        for f in regular:
            c = cond(f, msg)
            if c:
                cc.append(f'  if ({c}) {{')
                self.decode_value(f, f.name, cc, 4)
                cc.append('  }')
            else:
                self.decode_value(f, f.name, cc, 2)
        cc.append('  if (flexible) {')
        cc.append('    uint32_t ntags = r.ReadUnsignedVarint();')
        cc.append('    for (uint32_t t = 0; t < ntags && r.ok(); ++t) {')
        cc.append('      uint32_t tag = r.ReadUnsignedVarint();')
        cc.append('      [[maybe_unused]] Reader sub = r.Sub(r.ReadUnsignedVarint());')
        cc.append('      switch (tag) {')
        for f in tagged:
            c = cond(f, msg)
            cc.append(f'        case {f.tag}:')
            cc.append(f'          if ({c or "true"}) {{')
            sub = []
            self.decode_value(f, f.name, sub, 12)
            cc.extend(x.replace('r.', 'sub.') for x in sub)
            cc.append('            if (!sub.ok()) r.Fail();')
            cc.append('          }')
            cc.append('          break;')
        cc.append('        default:')
        cc.append('          break;  // unknown tags are skipped, as the protocol requires')
        cc.append('      }')
        cc.append('    }')
        cc.append('  }')
        cc.append('}')
        # Encode
        cc.append(f'void {qual}::EncodeBody(Writer& w, int16_t version, bool flexible) const {{')
        for f in regular:
            c = cond(f, msg)
            if c:
                cc.append(f'  if ({c}) {{')
                self.encode_value(f, f.name, cc, 4)
                cc.append('  }')
            else:
                self.encode_value(f, f.name, cc, 2)
        cc.append('  if (flexible) {')
        if not tagged:
            cc.append('    w.WriteUnsignedVarint(0);')
        else:
            cc.append('    uint32_t ntags = 0;')
            for f in tagged:
                c = cond(f, msg) or 'true'
                cc.append(f'    const bool has_{f.name} = ({c}) && !({f.name} == decltype({f.name}){{{f.default or ""}}});')
                cc.append(f'    ntags += has_{f.name};')
            cc.append('    w.WriteUnsignedVarint(ntags);')
            for f in tagged:
                cc.append(f'    if (has_{f.name}) {{')
                cc.append('      Writer tw;')
                sub = []
                self.encode_value(f, f.name, sub, 6)
                cc.extend(x.replace('w.', 'tw.') for x in sub)
                cc.append(f'      w.WriteUnsignedVarint({f.tag});')
                cc.append('      w.WriteUnsignedVarint(static_cast<uint32_t>(tw.size()));')
                cc.append('      w.Append(tw);')
                cc.append('    }')
        cc.append('  }')
        cc.append('}')
        if msg:
            cc.append(f'Status {qual}::Decode(Reader& r, int16_t version) {{')
            cc.append('  if (version < kMinVersion || version > kMaxVersion) {')
            cc.append(f'    return Unsupported("{qual} version " + std::to_string(version) + " is outside {msg.vlo}-{msg.vhi}");')
            cc.append('  }')
            cc.append('  DecodeBody(r, version, IsFlexible(version));')
            cc.append(f'  if (!r.ok()) return Corruption("malformed {qual} v" + std::to_string(version) + " at byte " + std::to_string(r.error_offset()));')
            cc.append('  return Status::Ok();')
            cc.append('}')
            cc.append(f'void {qual}::Encode(Writer& w, int16_t version) const {{')
            cc.append('  EncodeBody(w, version, IsFlexible(version));')
            cc.append('}')

    def sample_fn(self, qual, fields):
        for f in fields:
            if f.struct:
                self.sample_fn(f'{qual}::{f.struct}', f.fields)
        s = self.sample
        s.append(f'inline void Sample({qual}& m, int16_t version, int seed) {{')
        s.append('  (void)version; (void)seed;')
        for i, f in enumerate(fields):
            c = cond(f, None) or 'true'
            s.append(f'  if ({c}) {{')
            k = i + 1
            if f.is_array:
                vec = f'm.{f.name}'
                if f.nullable:
                    s.append(f'    if ((seed + {k}) % 5 == 0) {{ m.{f.name}.reset(); }} else {{')
                    s.append(f'    m.{f.name}.emplace();')
                    vec = f'(*m.{f.name})'
                else:
                    s.append('    {')
                s.append(f'    {vec}.resize(seed % 3 == 2 ? 0 : 1 + (seed + {k}) % 2);')
                s.append(f'    for (size_t i = 0; i < {vec}.size(); ++i) {{')
                if f.struct:
                    s.append(f'      Sample({vec}[i], version, seed + {k} + static_cast<int>(i));')
                else:
                    s.append(f'      SampleValue({vec}[i], seed + {k} + static_cast<int>(i));')
                s.append('    }')
                s.append('    }')
            elif f.nullable and f.typ != 'records':
                s.append(f'    if ((seed + {k}) % 4 == 0) {{ m.{f.name}.reset(); }} else {{')
                s.append(f'      m.{f.name}.emplace(); SampleValue(*m.{f.name}, seed + {k});')
                s.append('    }')
            else:
                s.append(f'    SampleValue(m.{f.name}, seed + {k});')
            s.append('  }')
        s.append('}')


def main():
    out_dir = sys.argv[1]
    msgs = []
    for path in sys.argv[2:]:
        msgs.extend(parse(path))
    g = Gen()
    g.h += ['// Generated by src/kafka/codegen/gen_messages.py from src/kafka/messages/*.def. Do not edit.',
            '#pragma once', '', '#include <algorithm>', '#include <cstdint>', '#include <optional>', '#include <string>',
            '#include <vector>', '', '#include "base/status.h"', '#include "kafka/protocol/wire.h"', '',
            'namespace ec::kafka {', '']
    for m in msgs:
        g.struct_decl(m.name, m.fields, 0, m)
        g.h.append('')
    g.h.append('// Every request message: api key, version range and first flexible version.')
    g.h.append('struct ApiInfo { int16_t api_key; const char* name; int16_t min_version; int16_t max_version; int16_t flexible_version; };')
    g.h.append(f'inline constexpr ApiInfo kGeneratedApis[] = {{')
    for m in msgs:
        if not m.response:
            g.h.append(f'  {{{m.api}, "{m.name[:-len("Request")]}", {m.vlo}, {m.vhi}, {m.flex}}},')
    g.h.append('};')
    g.h.append('')
    g.h.append('}  // namespace ec::kafka')
    g.cc += ['// Generated by src/kafka/codegen/gen_messages.py. Do not edit.',
             '#include "kafka/messages.h"', '', '#include <string>', '', 'namespace ec::kafka {', '']
    for m in msgs:
        g.struct_impl(m.name, m.fields, m)
        g.cc.append('')
    g.cc.append('}  // namespace ec::kafka')
    g.sample += ['// Generated: fills a message with varied values for round-trip tests. Do not edit.',
                 '#pragma once', '', '#include "kafka/messages.h"', '', 'namespace ec::kafka::testing {', '',
                 'inline void SampleValue(bool& v, int seed) { v = seed % 2; }',
                 'template <typename T> requires std::is_integral_v<T>',
                 'inline void SampleValue(T& v, int seed) { v = static_cast<T>(seed * 7919 - 3); }',
                 'inline void SampleValue(double& v, int seed) { v = seed * 0.5; }',
                 'inline void SampleValue(Uuid& v, int seed) { for (int i = 0; i < 16; ++i) v.bytes[i] = static_cast<uint8_t>(seed + i); }',
                 'inline void SampleValue(std::string& v, int seed) { v = seed % 3 == 0 ? std::string() : std::string(static_cast<size_t>(seed % 200), static_cast<char>(\'a\' + seed % 26)); }',
                 'inline void SampleValue(Records& v, int seed) { static const std::string kBuf(300, \'r\'); if (seed % 4 == 0) v = Records::Null(); else v = Records(std::string_view(kBuf).substr(0, static_cast<size_t>(seed % 300))); }',
                 '']
    for m in msgs:
        g.sample_fn(m.name, m.fields)
    g.sample.append('')
    g.sample.append('// Calls fn(message_type_tag) for every generated message type.')
    g.sample.append('template <typename Fn> void ForEachMessageType(Fn&& fn) {')
    for m in msgs:
        g.sample.append(f'  fn({m.name}{{}});')
    g.sample.append('}')
    g.sample.append('')
    g.sample.append('}  // namespace ec::kafka::testing')
    os.makedirs(os.path.join(out_dir, 'kafka'), exist_ok=True)
    for name, lines in (('messages.h', g.h), ('messages.cc', g.cc), ('messages_sample.h', g.sample)):
        path = os.path.join(out_dir, 'kafka', name)
        text = '\n'.join(lines) + '\n'
        old = None
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
        if old != text:
            with open(path, 'w') as f:
                f.write(text)


if __name__ == '__main__':
    main()
