// A continuous write load through ioredis's Cluster client, for
// tests/faults/test_cluster_failover.py:
//   node ioredis_writer.js <port> <out.json> <prefix> <victim slots "a-b,c-d"> [workers]
// Each worker writes unique keys <prefix>:<worker>:<n> = n with SET, one at
// a time, and records every write acknowledged with OK (key, time) and
// every error (time, key, message). A write whose reply is an error or
// never comes has an unknown fate and is not recorded as acknowledged.
// Prints "ready" once the client is ready and a first write of every worker
// was acknowledged. On SIGTERM (or SIGINT) it stops issuing writes, waits
// for those in flight (bounded), writes the summary to <out.json> and prints
// one JSON line with the counts:
//   {acked: {key: time_ms}, errors: [[time_ms, key, message]],
//    victim_acks: [time_ms...],   // acknowledged writes to the victim slots
//    victim_gap_ms, victim_gap_from, victim_gap_to}
// The victim gap is the longest time between two acknowledged writes to
// the victim's slots (from the first such write to the last).
"use strict";

const fs = require("fs");
const Redis = require("ioredis");
const calculateSlot = require("cluster-key-slot");

const [port, outPath, prefix, victimSpec, workersArg] = process.argv.slice(2);
const WORKERS = Number(workersArg || 8);
const DRAIN_MS = 5000;

function parseSlots(spec) {
    const victim = new Uint8Array(16384);
    for (const range of (spec || "").split(",").filter(Boolean)) {
        const [a, b] = range.split("-").map(Number);
        for (let s = a; s <= (b === undefined ? a : b); s++) victim[s] = 1;
    }
    return victim;
}

const victim = parseSlots(victimSpec);
const acked = {};
const errors = [];
const victimAcks = [];
let stopping = false;

async function worker(cluster, id, firstAck) {
    let first = true;
    for (let n = 0; !stopping; n++) {
        const key = `${prefix}:${id}:${n}`;
        try {
            const reply = await cluster.set(key, String(n));
            const now = Date.now();
            if (reply !== "OK") {
                errors.push([now, key, `unexpected reply ${reply}`]);
                continue;
            }
            acked[key] = now;
            if (victim[calculateSlot(key)]) victimAcks.push(now);
            if (first) {
                first = false;
                firstAck();
            }
        } catch (err) {
            errors.push([Date.now(), key, String(err && err.message ? err.message : err)]);
            // A failing cluster answers at once: do not spin.
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
    }
}

function longestGap(times) {
    const sorted = times.slice().sort((a, b) => a - b);
    let gap = 0, from = 0, to = 0;
    for (let i = 1; i < sorted.length; i++) {
        if (sorted[i] - sorted[i - 1] > gap) {
            gap = sorted[i] - sorted[i - 1];
            from = sorted[i - 1];
            to = sorted[i];
        }
    }
    return { gap, from, to };
}

async function main() {
    const cluster = new Redis.Cluster([{ host: "127.0.0.1", port: Number(port) }], {
        // A stopped (SIGSTOP) master keeps its connections open: time its
        // commands out, and refresh the slot map often enough to find the
        // new master within the failover budget.
        slotsRefreshInterval: 1000,
        slotsRefreshTimeout: 1000,
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        redisOptions: { connectTimeout: 1000, commandTimeout: 1000, maxRetriesPerRequest: 2 },
    });
    cluster.on("error", () => {}); // reported through the commands that fail
    await new Promise((resolve, reject) => {
        cluster.once("ready", resolve);
        setTimeout(() => reject(new Error("cluster not ready after 20 s")), 20000);
    });

    let firstAcks = 0;
    const running = [];
    for (let i = 0; i < WORKERS; i++)
        running.push(
            worker(cluster, i, () => {
                if (++firstAcks === WORKERS) console.log("ready");
            }),
        );

    await new Promise((resolve) => {
        process.once("SIGTERM", resolve);
        process.once("SIGINT", resolve);
    });
    stopping = true;
    await Promise.race([
        Promise.all(running),
        new Promise((resolve) => setTimeout(resolve, DRAIN_MS)),
    ]);
    const gap = longestGap(victimAcks);
    const summary = {
        acked,
        errors,
        victim_acks: victimAcks,
        victim_gap_ms: gap.gap,
        victim_gap_from: gap.from,
        victim_gap_to: gap.to,
    };
    fs.writeFileSync(outPath, JSON.stringify(summary));
    console.log(
        JSON.stringify({
            acked: Object.keys(acked).length,
            errors: errors.length,
            victim_acks: victimAcks.length,
            victim_gap_ms: gap.gap,
        }),
    );
    cluster.disconnect();
    process.exit(0);
}

main().catch((err) => {
    console.log(JSON.stringify({ fatal: String(err) }));
    process.exit(1);
});
