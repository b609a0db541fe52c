// node-redis's cluster client (createCluster) running a mixed workload against a memvec
// cluster while the test kills a primary and moves slots; run by
// tests/cluster/test_done_when.py.
// `node node_redis_cluster_load.cjs HOST:PORT PREFIX KEYS DIM SEED`
//
// Rounds of: HSET of an indexed document PREFIX:doc:<i % KEYS> (title, tag, a unique n, a
// DIM-float32 vector), SET PREFIX:s:<i % KEYS> then GET of it (read your write), and every
// fifth round a DEL of another document. Each command is retried until the cluster
// acknowledges it (a killed node, a redirect the client gave up on): every command is
// idempotent, so the acknowledged state below is exactly what the cluster must hold.
//
// Commands on stdin, one per line; each answered by one JSON line on stdout once the
// command in flight is acknowledged:
//   "pause"  -> {"paused": true, "rounds": R, "errors": E, "wrong_reads": W}
//   "resume" -> {"resumed": true}
//   "state"  -> {"docs": {key: {title, tag, n, v (base64)} | null}, "strings": {key: value}}
//   "stop"   -> {"stopped": true, ...}, then the process exits.
// CommonJS: node resolves require() through NODE_PATH (tests/harness/node_clients.py).
const { createCluster } = require('redis');
const readline = require('readline');

const TAGS = ['red', 'blue', 'green'];
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'omega'];

function say(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function rng(seed) {
  // mulberry32: deterministic per run, no dependency
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const [root, prefix, keysArg, dimArg, seedArg] = process.argv.slice(2);
  const keys = Number(keysArg);
  const dim = Number(dimArg);
  const random = rng(Number(seedArg));
  const cluster = createCluster({
    rootNodes: [{ url: `redis://${root}` }],
    defaults: { socket: { connectTimeout: 5000, reconnectStrategy: () => 100 } },
    maxCommandRedirections: 32,
  });
  cluster.on('error', () => {});
  await cluster.connect();

  const docs = {};
  const strings = {};
  let rounds = 0;
  let errors = 0;
  let wrongReads = 0;
  let pauseRequested = false;
  let stopRequested = false;
  let resume = null;

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const cmd = line.trim();
    if (cmd === 'pause') pauseRequested = true;
    else if (cmd === 'state') say({ docs, strings }); // asked while paused: consistent
    else if (cmd === 'resume' || cmd === 'stop') {
      if (cmd === 'stop') stopRequested = true;
      pauseRequested = false;
      if (resume !== null) {
        const wake = resume;
        resume = null;
        if (cmd === 'resume') say({ resumed: true });
        wake();
      }
    }
  });

  async function acked(fn) {
    // retried until acknowledged: a failover or a move makes some attempts fail
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        errors += 1;
        await sleep(50);
      }
    }
  }

  while (!stopRequested) {
    if (pauseRequested) {
      const waiting = new Promise((resolve) => {
        resume = resolve;
      });
      say({ paused: true, rounds, errors, wrong_reads: wrongReads });
      await waiting;
      continue;
    }
    const i = rounds;
    const key = `${prefix}:doc:${i % keys}`;
    const vec = Float32Array.from({ length: dim }, () => random() * 2 - 1);
    const v = Buffer.from(vec.buffer);
    const words = WORDS.filter(() => random() < 0.5);
    const doc = {
      title: words.length ? words.join(' ') : 'omega',
      tag: TAGS[Math.floor(random() * TAGS.length)],
      n: String(100000 + i), // unique: SORTBY n never ties
    };
    await acked(() => cluster.hSet(key, { ...doc, v }));
    docs[key] = { ...doc, v: v.toString('base64') };
    const skey = `${prefix}:s:${i % keys}`;
    await acked(() => cluster.set(skey, String(i)));
    strings[skey] = String(i);
    const got = await acked(() => cluster.get(skey));
    if (got !== String(i)) wrongReads += 1;
    if (i % 5 === 4) {
      const victim = `${prefix}:doc:${(i * 7) % keys}`;
      await acked(() => cluster.del(victim));
      docs[victim] = null;
    }
    rounds += 1;
  }
  say({ stopped: true, rounds, errors, wrong_reads: wrongReads });
  rl.close();
  await cluster.disconnect();
}

main().catch((err) => {
  process.stderr.write(String(err.stack ?? err) + '\n');
  process.exit(1);
});
