// A mixed workload through ioredis's Cluster client, for
// tests/integration/test_cluster_clients.py:
//   node ioredis_workload.js <port> <scaleReads: master|slave> <prefix>
// Writes keys with SET, INCR, pipelines, same-slot MSET and a script, reads
// them back (from replicas too with scaleReads 'slave', waiting for them to
// apply), and prints one JSON line with what it did. Exits 1 on any error
// or wrong value.
"use strict";

const Redis = require("ioredis");

const [port, scaleReads, prefix] = process.argv.slice(2);
const KEYS = 300;
const READ_DEADLINE_MS = 10000;

function fail(message) {
    console.log(JSON.stringify({ ok: false, error: String(message) }));
    process.exit(1);
}

// Replicas apply a write a heartbeat after the leader: poll, bounded.
async function eventually(read, expected, what) {
    const deadline = Date.now() + READ_DEADLINE_MS;
    for (;;) {
        const got = await read();
        if (JSON.stringify(got) === JSON.stringify(expected)) return;
        if (Date.now() > deadline)
            fail(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
    }
}

async function main() {
    const cluster = new Redis.Cluster([{ host: "127.0.0.1", port: Number(port) }], {
        scaleReads,
        redisOptions: { connectTimeout: 5000 },
    });
    cluster.on("error", () => {}); // reported through the commands that fail
    await new Promise((resolve, reject) => {
        cluster.once("ready", resolve);
        setTimeout(() => reject(new Error("cluster not ready after 15 s")), 15000);
    });

    for (let i = 0; i < KEYS; i++) await cluster.set(`${prefix}:k:${i}`, `v${i}`);
    for (let i = 0; i < KEYS; i++) await cluster.incrby(`${prefix}:n:${i % 10}`, 1);

    const pipeline = cluster.pipeline();
    for (let i = 0; i < 50; i++) pipeline.set(`${prefix}:{p}:${i}`, i);
    for (let i = 0; i < 50; i++) pipeline.incr(`${prefix}:{p}:${i}`);
    const results = await pipeline.exec();
    for (const [err] of results) if (err) fail(`pipeline: ${err}`);

    await cluster.mset(`${prefix}:{m}:a`, "1", `${prefix}:{m}:b`, "2");
    const script = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[2])";
    const scripted = await cluster.eval(script, 2, `${prefix}:{s}:a`, `${prefix}:{s}:b`, "x");
    if (scripted !== null) fail(`eval returned ${scripted}`);

    for (let i = 0; i < KEYS; i += 7)
        await eventually(() => cluster.get(`${prefix}:k:${i}`), `v${i}`, `get ${prefix}:k:${i}`);
    for (let i = 0; i < 10; i++)
        await eventually(() => cluster.get(`${prefix}:n:${i}`), `${KEYS / 10}`, `counter ${i}`);
    for (let i = 0; i < 50; i += 5)
        await eventually(() => cluster.get(`${prefix}:{p}:${i}`), `${i + 1}`, `pipelined ${i}`);
    await eventually(() => cluster.mget(`${prefix}:{m}:a`, `${prefix}:{m}:b`), ["1", "2"], "mget");
    await eventually(() => cluster.get(`${prefix}:{s}:a`), "x", "scripted write");

    const nodes = cluster.nodes(scaleReads === "slave" ? "slave" : "master").length;
    console.log(JSON.stringify({ ok: true, keys: KEYS, nodes }));
    cluster.disconnect();
}

main().catch(fail);
