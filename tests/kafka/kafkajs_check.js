// kafkajs against the broker: admin createTopics, a producer, and a consumer group of two that
// splits the partitions and together reads every message. Usage: node kafkajs_check.js HOST:PORT
'use strict';
const { Kafka, logLevel } = require('kafkajs');

const broker = process.argv[2];
const kafka = new Kafka({ clientId: 'ec-test', brokers: [broker], logLevel: logLevel.WARN,
                          retry: { retries: 5 } });

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'js', numPartitions: 2 }] });
  await admin.disconnect();

  const total = 60;
  const seen = new Map();  // consumer name -> Set of values
  const consumers = [];
  let resolveAll;
  const all = new Promise((r) => { resolveAll = r; });
  const count = () => [...seen.values()].reduce((n, s) => n + s.size, 0);
  for (const name of ['c1', 'c2']) {
    const c = kafka.consumer({ groupId: 'jsgroup', sessionTimeout: 10000, heartbeatInterval: 300,
                               rebalanceTimeout: 10000, maxWaitTimeInMs: 100 });
    seen.set(name, new Set());
    await c.connect();
    await c.subscribe({ topic: 'js', fromBeginning: true });
    await c.run({
      eachMessage: async ({ partition, message }) => {
        seen.get(name).add(partition + ':' + message.value.toString());
        if (count() >= total) resolveAll();
      },
    });
    consumers.push(c);
  }
  // Wait until both members have an assignment before producing.
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    const a = kafka.admin();
    await a.connect();
    const g = await a.describeGroups(['jsgroup']);
    await a.disconnect();
    const grp = g.groups[0];
    if (grp.state === 'Stable' && grp.members.length === 2 &&
        grp.members.every((m) => m.memberAssignment.length > 0)) break;
  }

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < total; i += 10) {
    const messages = [];
    for (let j = i; j < i + 10; ++j) messages.push({ partition: j % 2, key: 'k' + j, value: 'v' + j });
    await producer.send({ topic: 'js', acks: -1, messages });
  }
  await producer.disconnect();

  const timer = setTimeout(() => resolveAll(), 30000);
  await all;
  clearTimeout(timer);
  for (const c of consumers) await c.disconnect();
  const got = count();
  const sizes = [...seen.values()].map((s) => s.size);
  console.log(JSON.stringify({ got, sizes }));
  if (got !== total) throw new Error(`consumed ${got} of ${total}`);
  if (sizes.some((n) => n === 0)) throw new Error('a group member consumed nothing: ' + sizes);
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
