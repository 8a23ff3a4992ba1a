// jsonata-js side of bench_jsonata: node jsonata_peer.mjs <exprs.json> <record.json> <node_modules>
// Prints {"<name>": {"eval_ns": median, "compile_ns": median}, ...} measured the same way for each
// expression: 7 runs of batches lasting ~150 ms, median per-call time (evaluate() is awaited),
// the smaller of the wall-time and process-CPU-time medians.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const [exprsPath, recordPath, modules] = process.argv.slice(2);
const require = createRequire(modules + '/');
const jsonata = require('jsonata');
const exprs = JSON.parse(fs.readFileSync(exprsPath, 'utf8'));
const rec = JSON.parse(fs.readFileSync(recordPath, 'utf8'));
let sink = 0;

async function bench(fn, isAsync) {
  let iters = 1;
  for (;;) {  // calibrate to ~150 ms per batch
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) { const r = isAsync ? await fn() : fn(); sink += r ? 1 : 0; }
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > 150e6 || iters > 1e8) break;
    iters = Math.max(iters * 2, Math.ceil(iters * 150e6 / Math.max(ns, 1)));
  }
  // Wall time and process CPU time per call; the smaller median counts (wall time is inflated
  // when the machine is loaded, CPU time includes V8's helper threads when it is not).
  const wall = [], cpu = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) { const x = isAsync ? await fn() : fn(); sink += x ? 1 : 0; }
    wall.push(Number(process.hrtime.bigint() - t0) / iters);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) * 1000 / iters);
  }
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  return Math.min(wall[3], cpu[3]);
}

const out = {};
for (const [name, src] of Object.entries(exprs)) {
  const compiled = jsonata(src);
  const compile_ns = await bench(() => jsonata(src), false);
  const eval_ns = await bench(() => compiled.evaluate(rec), true);
  out[name] = { eval_ns, compile_ns, result: await compiled.evaluate(rec) };
}
out._sink = sink;
process.stdout.write(JSON.stringify(out));
