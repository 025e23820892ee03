// Creating every declared index with one createIndexes per collection (what the reconciler sends)
// against one createIndexes per index, in the same run on the same server, alternating the two so
// neither gets the warmer cache. Each round starts from fresh collections holding the same sample
// documents. Server: $MONGODB_URL (the private Mongo-wire test server by default).
import { MongoClient, type Document } from "mongodb";
import { nexusCollections } from "../mongo/collections";
import { planChanges, probeCapabilities } from "../engines/mongo";
import { report } from "./run";

const URL = process.env.MONGODB_URL ?? "mongodb://127.0.0.1:57027/";
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DOCS = Number(process.env.BENCH_DOCS ?? 500);

function sampleDoc(collection: string, i: number): Document {
  const sha = i.toString(16).padStart(64, "0");
  const t = new Date(Date.UTC(2025, 0, 1) + i * 60_000);
  const base: Record<string, Document> = {
    analysis_results: { submission_id: `s${i % 97}`, sha256: sha, engine_id: `e${i % 13}`, verdict: "benign", confidence: 0.5, timestamp: t },
    file_metadata: { sha256: sha, sha1: sha.slice(0, 40), md5: sha.slice(0, 32), file_type: "application/pdf", file_size: i, upload_timestamp: t },
    engine_stats: { engine_id: `e${i % 13}`, ts: t, total_analyses: i, accuracy_rate: 0.9, reputation_score: i % 100 },
    consensus_results: { submission_id: `s${i}`, sha256: sha, final_verdict: "benign", confidence_score: 0.7, timestamp: t },
    threat_indicators: { indicator_type: "domain", indicator_value: `d${i}.example`, threat_level: "low", first_seen: t, last_seen: t, tags: ["x"] },
    sandbox_reports: { submission_id: `s${i}`, sha256: sha, execution_time: 60, report_timestamp: t, network_activity: [{ domain: `d${i}.example` }] },
  };
  return base[collection];
}

async function main(): Promise<void> {
  const client = await MongoClient.connect(URL, { serverSelectionTimeoutMS: 10_000 });
  try {
    const probeDb = `nexus_bench_probe_${process.pid}`;
    const caps = await probeCapabilities(client.db(probeDb));
    await client.db(probeDb).dropDatabase();
    // The index specs exactly as the reconciler sends them to this server.
    const plan = planChanges({
      database: "bench",
      collections: nexusCollections(),
      capabilities: caps,
      observed: { collections: new Map(), managed: new Map() },
    });
    const batches = plan.steps.filter((s) => s.kind === "createIndexes").map((s) => ({ collection: String(s.command.createIndexes), indexes: s.command.indexes as Document[] }));
    const total = batches.reduce((n, b) => n + b.indexes.length, 0);
    console.error(`${caps.server}: ${total} indexes on ${batches.length} collections, ${DOCS} documents each, ${ROUNDS} rounds`);

    const prepare = async (db: string) => {
      for (const b of batches) {
        await client.db(db).createCollection(b.collection);
        if (DOCS > 0) await client.db(db).collection(b.collection).insertMany(Array.from({ length: DOCS }, (_, i) => sampleDoc(b.collection, i)));
      }
    };
    const timed = async (mode: "batched" | "per-index", round: number): Promise<number> => {
      const db = `nexus_bench_${mode === "batched" ? "b" : "p"}_${process.pid}_${round}`;
      await prepare(db);
      const t0 = process.hrtime.bigint();
      for (const b of batches) {
        if (mode === "batched") await client.db(db).command({ createIndexes: b.collection, indexes: b.indexes });
        else for (const ix of b.indexes) await client.db(db).command({ createIndexes: b.collection, indexes: [ix] });
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      await client.db(db).dropDatabase();
      return ms;
    };

    await timed("batched", -1); // warm-up, not counted
    await timed("per-index", -1);
    const batched: number[] = [];
    const perIndex: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) {
        batched.push(await timed("batched", r));
        perIndex.push(await timed("per-index", r));
      } else {
        perIndex.push(await timed("per-index", r));
        batched.push(await timed("batched", r));
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const ours = median(batched);
    const baseline = median(perIndex);
    console.error(`one createIndexes per collection: ${ours.toFixed(1)} ms, one per index: ${baseline.toFixed(1)} ms (medians)`);
    report({
      name: `create ${total} indexes: one createIndexes per collection vs one per index`,
      ours,
      baseline,
      unit: "ms",
      note: `${caps.server}; ${batches.length} collections of ${DOCS} documents; median of ${ROUNDS} alternating rounds; ${batches.length} vs ${total} commands`,
    });
  } finally {
    await client.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
