// Evaluates each {expr, data} of the JSON file argv[2] with jsonata-js and prints one JSON line
// per case: {"result": ...} | {"undefined": true} | {"code": "..."}.
import fs from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.argv[3] + '/');
const jsonata = require('jsonata');
const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const out = [];
for (const c of cases) {
  try {
    const r = await jsonata(c.expr).evaluate(c.data);
    out.push(r === undefined ? { undefined: true } : { result: JSON.parse(JSON.stringify(r)) });
  } catch (e) {
    out.push({ code: e.code || 'JS' });
  }
}
process.stdout.write(JSON.stringify(out));
