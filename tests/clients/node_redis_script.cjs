// node-redis FT commands against one server; run by tests/server/test_client_node.py.
// `node node_redis_script.mjs URL PREFIX` prints one JSON object with what the client
// saw; every key and index it creates starts with PREFIX and is deleted before it exits.
// CommonJS: node resolves require() through NODE_PATH (tests/harness/node_clients.py).
const { createClient, SCHEMA_FIELD_TYPE, SCHEMA_VECTOR_FIELD_ALGORITHM } = require('redis');

async function main() {
const [url, prefix] = process.argv.slice(2);
const client = createClient({ url });
client.on('error', () => {});
await client.connect();
const out = {};
const idx = `${prefix}idx`;

function vec(xs) {
  return Buffer.from(new Float32Array(xs).buffer);
}

async function attempt(name, fn) {
  try {
    out[name] = await fn();
  } catch (err) {
    out[name] = { error: String(err.message ?? err) };
  }
}

try {
  await attempt('create', () => client.ft.create(idx, {
    title: { type: SCHEMA_FIELD_TYPE.TEXT, SORTABLE: true },
    genre: { type: SCHEMA_FIELD_TYPE.TAG },
    year: { type: SCHEMA_FIELD_TYPE.NUMERIC, SORTABLE: true },
    embedding: {
      type: SCHEMA_FIELD_TYPE.VECTOR,
      ALGORITHM: SCHEMA_VECTOR_FIELD_ALGORITHM.HNSW,
      TYPE: 'FLOAT32', DIM: 3, DISTANCE_METRIC: 'L2',
    },
  }, { ON: 'HASH', PREFIX: `${prefix}doc:` }));
  // the peer scans existing keys in the background after FT.CREATE: a document written
  // meanwhile can be indexed twice, so wait until FT.INFO says the scan is over
  for (let i = 0; i < 250; i++) {
    const info = await client.sendCommand(['FT.INFO', idx]);
    const indexing = info instanceof Map ? info.get('indexing')
      : Array.isArray(info) ? info[info.findIndex((x) => String(x) === 'indexing') + 1]
        : info?.indexing;
    if (indexing === undefined || String(indexing) === '0') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const docs = [
    ['1', 'red apple', 'fruit', 2001, [1, 0, 0]],
    ['2', 'green pear', 'fruit', 2005, [0, 1, 0]],
    ['3', 'blue car', 'vehicle', 2010, [0, 0, 1]],
    ['4', 'red truck', 'vehicle', 2015, [1, 1, 0]],
  ];
  for (const [id, title, genre, year, v] of docs) {
    await client.hSet(`${prefix}doc:${id}`, { title, genre, year: String(year), embedding: vec(v) });
  }
  await attempt('list', async () => (await client.ft._list()).includes(idx));
  await attempt('text', () => client.ft.search(idx, '@title:red', {
    RETURN: ['title', 'year'], SORTBY: { BY: 'year', DIRECTION: 'ASC' },
  }));
  await attempt('tag_numeric', () => client.ft.search(idx, '@genre:{vehicle} @year:[2011 +inf]', {
    RETURN: ['title'],
  }));
  await attempt('knn', () => client.ft.search(idx, '*=>[KNN 3 @embedding $B AS dist]', {
    PARAMS: { B: vec([1, 0.1, 0]) }, SORTBY: 'dist', RETURN: ['title', 'dist'], DIALECT: 2,
  }));
  await attempt('range', () => client.ft.search(idx, '@embedding:[VECTOR_RANGE 1.1 $B]=>{$YIELD_DISTANCE_AS: d}', {
    PARAMS: { B: vec([1, 0, 0]) }, SORTBY: 'd', RETURN: ['title', 'd'], DIALECT: 2,
  }));
  await attempt('nocontent', () => client.ft.searchNoContent(idx, '@genre:{fruit}', {
    SORTBY: 'year', LIMIT: { from: 0, size: 1 },
  }));
  await attempt('aggregate', () => client.ft.aggregate(idx, '*', {
    STEPS: [
      { type: 'GROUPBY', properties: '@genre', REDUCE: [
        { type: 'COUNT', AS: 'n' },
        { type: 'AVG', property: '@year', AS: 'avg_year' },
      ] },
      { type: 'SORTBY', BY: '@genre' },
    ],
  }));
  await attempt('info', async () => {
    const info = await client.ft.info(idx);
    return {
      name: info.index_name,
      num_docs: Number(info.num_docs),
      attributes: info.attributes.map((a) => [a.identifier, a.attribute, a.type]),
    };
  });
  await attempt('bad_query', () => client.ft.search(idx, '@title:(', {}));
  await attempt('unknown_index', () => client.ft.search(`${prefix}nope`, '*', {}));
  await attempt('duplicate_create', () => client.ft.create(idx, {
    title: { type: SCHEMA_FIELD_TYPE.TEXT },
  }, { ON: 'HASH', PREFIX: `${prefix}doc:` }));
  await attempt('alias', async () => {
    await client.ft.aliasAdd(`${prefix}alias`, idx);
    const r = await client.ft.searchNoContent(`${prefix}alias`, '@genre:{fruit}');
    await client.ft.aliasDel(`${prefix}alias`);
    return r;
  });
  await attempt('dropindex', () => client.ft.dropIndex(idx, { DD: true }));
  await attempt('left', async () => (await client.keys(`${prefix}*`)).length);
} finally {
  await client.quit();
}
process.stdout.write(JSON.stringify(out, (k, v) => (typeof v === 'bigint' ? String(v) : v)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
