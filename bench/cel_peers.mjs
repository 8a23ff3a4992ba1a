// The JS CEL engines on the 6 filter expressions of ../shared/anchors/js/bench_cel.mjs, timed the
// same way as our benchmark: compile once, evaluate the pre-parsed record in a loop.
// Usage: node bench/cel_peers.mjs <shared dir>   (prints one JSON object on stdout)
// Packages come from tests/peers/node_modules (scripts/install-peers.sh installs them).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const peers = path.join(here, '..', 'tests', 'peers', 'node_modules');
const shared = process.argv[2] ?? path.join(here, '..', '..', 'shared');
const load = (rel) => import(pathToFileURL(path.join(peers, rel)).href);
const version = (name) => JSON.parse(fs.readFileSync(path.join(peers, name, 'package.json'), 'utf8')).version;

const buf = await load('@bufbuild/cel/dist/esm/index.js');
const mb = await load('@marcbachmann/cel-js/lib/index.js');
const rec = JSON.parse(fs.readFileSync(path.join(shared, 'anchors', 'gen', 'record.json'), 'utf8'));

export const EXPRESSIONS = {
  method_status: `request.method == 'POST' && response.status == 201`,
  status_range_prefix: `response.status >= 200 && response.status < 300 && request.path.startsWith('/orders')`,
  exists_price: `request.body.items.exists(i, i.price > 100.0)`,
  size_and_tier: `request.body.items.size() > 3 && 'gold' == request.body.customer.tier`,
  has_and_regex: `has(response.body.id) && response.body.id.matches('^o-[0-9]+$')`,
  header_contains: `request.headers['content-type'].contains('json')`,
};

const bufEnv = buf.celEnv();
const LIBS = {
  '@marcbachmann/cel-js': (src) => { const p = mb.parse(src); return () => p(rec); },
  '@bufbuild/cel': (src) => { const p = buf.plan(bufEnv, buf.parse(src)); return () => p(rec); },
};

let sink = 0;
// Median CPU ns per evaluation over `runs` batches of ~targetMs each (after a warm-up). CPU
// time, not wall time, so a busy shared machine inflates neither side of the comparison.
function bench(fn, runs = 7, targetMs = 150) {
  const warm = process.hrtime.bigint();  // let the JIT settle first
  while (Number(process.hrtime.bigint() - warm) < 300e6) for (let i = 0; i < 1000; i++) sink ^= fn() === true ? 1 : 0;
  let iters = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) sink ^= fn() === true ? 1 : 0;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > 50) { iters = Math.max(1, Math.round(iters * targetMs / ms)); break; }
    iters *= 2;
  }
  const per = [];
  for (let r = 0; r < runs; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iters; i++) sink ^= fn() === true ? 1 : 0;
    const c = process.cpuUsage(c0);
    per.push((c.user + c.system) * 1000 / iters);
  }
  per.sort((a, b) => a - b);
  return per[per.length >> 1];
}

const out = { node: process.version, versions: {}, ns: {} };
for (const [lib, compile] of Object.entries(LIBS)) {
  out.versions[lib] = version(lib);
  out.ns[lib] = {};
  for (const [name, src] of Object.entries(EXPRESSIONS)) {
    const fn = compile(src);
    if (fn() !== true) throw new Error(`${lib} ${name}: expected true, got ${fn()}`);
    out.ns[lib][name] = bench(fn);
  }
}
out.sink = sink;
process.stdout.write(JSON.stringify(out) + '\n');
