// node-redis's cluster client (createCluster) against a memvec cluster; run by
// tests/cluster/test_cluster_clients.py. `node node_redis_cluster.cjs HOST:PORT PREFIX KEY`
// connects through one root node and prints one JSON line per phase on stdout:
//   1. {"phase": "ready", ...}: SET/GET of 30 keys spread over the slots, MSET/MGET of
//      hash-tagged keys, and a cross-slot RENAME that must fail (CROSSSLOT);
//   then it waits for a line on stdin (the test moves KEY's empty slot to another shard);
//   2. {"phase": "moved", ...}: SET/GET of KEY through the client's old slot map (the old
//      owner answers MOVED, the client follows it), then deletes every key it wrote.
// CommonJS: node resolves require() through NODE_PATH (tests/harness/node_clients.py).
const { createCluster } = require('redis');
const readline = require('readline');

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function main() {
  const [root, prefix, movingKey] = process.argv.slice(2);
  const cluster = createCluster({
    rootNodes: [{ url: `redis://${root}` }],
    defaults: { socket: { connectTimeout: 10000 } },
  });
  cluster.on('error', () => {});
  await cluster.connect();
  const keys = Array.from({ length: 30 }, (_, i) => `${prefix}k${i}`);
  const tagged = [`${prefix}{t}a`, `${prefix}{t}b`, `${prefix}{t}c`];
  const ready = { phase: 'ready' };
  for (const [i, k] of keys.entries()) await cluster.set(k, String(i));
  ready.got = await Promise.all(keys.map((k) => cluster.get(k)));
  ready.masters = cluster.masters.length;
  await cluster.mSet(tagged.map((k, i) => [k, `v${i}`]));
  ready.mget = await cluster.mGet(tagged);
  try {
    // two slots in one command: sent to the first key's node, which refuses it (RENAME,
    // because node-redis splits MGET/MSET by slot itself)
    await cluster.sendCommand(keys[0], false, ['RENAME', keys[0], `${keys[0]}{other}`]);
    ready.crossslot = 'no error';
  } catch (err) {
    ready.crossslot = String(err.message ?? err);
  }
  say(ready);

  const rl = readline.createInterface({ input: process.stdin });
  await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  const moved = { phase: 'moved' };
  moved.set = await cluster.set(movingKey, 'after');
  moved.get = await cluster.get(movingKey);
  moved.deleted = 0;
  for (const k of [...keys, ...tagged, movingKey]) moved.deleted += await cluster.del(k);
  say(moved);
  await cluster.quit();
}

main().catch((err) => {
  process.stderr.write(String(err.stack ?? err) + '\n');
  process.exit(1);
});
