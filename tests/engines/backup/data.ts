// Data for the backup tests: the platform's schema and seed data plus generated rows, documents of
// every BSON type the server takes, Redis keys of every type with TTLs — and snapshots of each
// store that two runs can be compared by.
import { createHash } from "node:crypto";
import * as path from "node:path";
import { Client } from "pg";
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Db, type Document } from "mongodb";
import type Redis from "ioredis";
import { DirectoryMigrationSource, migrate } from "../../../engines/postgres";
import { listSeeds, loadSeeds } from "../../../engines/postgres/seed";
import { redisClient, userTables } from "../../../engines/backup";
import { withClient } from "../../helpers/pg";

const ROOT = path.resolve(__dirname, "../../..");

/** Migrates `url` to `targetVersion` (default: all) and loads the seed data. */
export async function platformSchema(url: string, opts: { targetVersion?: number; seeds?: boolean } = {}): Promise<void> {
  const r = await migrate({ connection: url, source: new DirectoryMigrationSource(path.join(ROOT, "sql/migrations")), settings: { targetVersion: opts.targetVersion } });
  if (r.error) throw r.error;
  if (opts.seeds !== false) await loadSeeds(url, listSeeds(path.join(ROOT, "sql/seeds")));
}

/** Generated rows over the big tables: `users` users, 3× as many audit rows, 1.25× as many submissions. */
export async function generateRows(url: string, users: number): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(
      `INSERT INTO users (username, email, wallet_address, status, preferences, metadata, created_at)
       SELECT 'gen_user_' || g, 'gen' || g || '@example.org', '0x' || lpad(to_hex(g), 40, '0'), 'active',
              jsonb_build_object('theme', CASE WHEN g % 2 = 0 THEN 'dark' ELSE 'light' END), jsonb_build_object('n', g, 'ratio', g / 7.0),
              timestamptz '2024-01-01' + g * interval '1 minute'
         FROM generate_series(1, $1::int) g`,
      [users],
    );
    await c.query(
      `INSERT INTO security_audit_log (user_id, action, entity_type, entity_id, success, ip_address, user_agent, details, created_at)
       SELECT u.id, 'auth.login', 'user', u.id::text, g % 7 <> 0, ('10.0.' || (g % 250) || '.' || (g % 200))::inet, 'agent/' || g,
              jsonb_build_object('attempt', g, 'note', repeat('x', g % 50)), timestamptz '2024-06-01' + g * interval '1 second'
         FROM generate_series(1, $1::int * 3) g JOIN users u ON u.username = 'gen_user_' || (1 + g % $1::int)`,
      [users],
    );
    await c.query(
      `INSERT INTO submissions (submitter_id, submission_type, url, url_sha256, status, priority, tags, metadata, created_at)
       SELECT u.id, 'url', 'https://example.org/sample/' || g, encode(sha256(('https://example.org/sample/' || g)::bytea), 'hex'), 'pending', 1 + g % 5,
              ARRAY['gen', 't' || (g % 10)], jsonb_build_object('g', g), timestamptz '2024-03-01' + g * interval '1 minute'
         FROM generate_series(1, $1::int * 5 / 4) g JOIN users u ON u.username = 'gen_user_' || (1 + g % $1::int)`,
      [users],
    );
    return users + users * 3 + Math.floor((users * 5) / 4);
  } finally {
    await c.end();
  }
}

/** Per table: row count and the md5 of its rows in text order; plus the history table and sequences. */
export async function pgSnapshot(url: string): Promise<Record<string, { rows: number; md5: string }>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const out: Record<string, { rows: number; md5: string }> = {};
    for (const t of await userTables(c)) {
      const r = await c.query<{ n: string; h: string | null }>(`SELECT count(*) AS n, md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM ${t} x`);
      out[t] = { rows: Number(r.rows[0].n), md5: r.rows[0].h ?? "" };
    }
    const seqs = await c.query<{ s: string; v: string | null }>(
      "SELECT format('%I.%I', schemaname, sequencename) AS s, last_value::text AS v FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog','information_schema') ORDER BY 1",
    );
    for (const s of seqs.rows) out[`sequence ${s.s}`] = { rows: 0, md5: s.v ?? "unused" };
    const idx = await c.query<{ d: string }>("SELECT string_agg(indexdef, E'\\n' ORDER BY indexdef) AS d FROM pg_indexes WHERE schemaname = 'public'");
    out["indexes"] = { rows: 0, md5: createHash("md5").update(idx.rows[0].d ?? "").digest("hex") };
    return out;
  } finally {
    await c.end();
  }
}

/** Sample values of every BSON type; those the server refuses are left out (and named). */
function typedFields(i: number): Document {
  return {
    oid: new ObjectId(),
    date: new Date(Date.UTC(2024, 0, 1) + i * 1000),
    dec: Decimal128.fromString(`${i}.${String(i % 1000).padStart(3, "0")}1`),
    bin: new Binary(Buffer.from([i & 255, (i >> 8) & 255, 0, 255])),
    uuid: new Binary(Buffer.from(createHash("md5").update(String(i)).digest()), Binary.SUBTYPE_UUID),
    int32: new Int32(i),
    double: new Double(i % 3 === 0 ? 1.0 : i / 7),
    long: Long.fromNumber(i * 1_000_000_007),
    ts: new Timestamp({ t: 1_700_000_000 + i, i: 1 }),
    nested: { a: [1, "two", { three: 3 }], empty: {}, nil: null, flag: i % 2 === 0 },
    text: `document ${i} ${"ü".repeat(i % 5)}`,
  };
}

/** Which of the typed fields this server stores and gives back unchanged (FerretDB lacks some). */
export async function supportedFields(db: Db): Promise<{ fields: string[]; refused: string[] }> {
  const probe = db.collection("type_probe");
  const sample = typedFields(7);
  const fields: string[] = [];
  const refused: string[] = [];
  for (const [k, v] of Object.entries(sample)) {
    const doc = { _id: new ObjectId(), [k]: v };
    try {
      await probe.insertOne(doc);
      const back = await probe.findOne({ _id: doc._id }, { raw: true });
      const same = Buffer.compare(back as unknown as Buffer, BSON.serialize(doc)) === 0;
      (same ? fields : refused).push(same ? k : `${k} (not returned byte for byte)`);
    } catch (e) {
      refused.push(`${k} (${(e as Error).message.split("\n")[0]})`);
    }
  }
  await probe.drop().catch(() => undefined);
  return { fields, refused };
}

export async function generateDocuments(db: Db, collection: string, count: number, fields: string[]): Promise<void> {
  const coll = db.collection(collection);
  const batch = 2000;
  for (let off = 0; off < count; off += batch) {
    const docs: Document[] = [];
    for (let i = off; i < Math.min(count, off + batch); i++) {
      const all = typedFields(i);
      const d: Document = { _id: new ObjectId(), n: new Int32(i) };
      for (const f of fields) d[f] = all[f];
      docs.push(d);
    }
    await coll.insertMany(docs, { ordered: false });
  }
}

/** Each collection: its documents as canonical Extended JSON (types kept), hashed, with raw BSON hashed too; its indexes and options. */
export async function mongoSnapshot(db: Db): Promise<Record<string, { documents: number; ejsonSha256: string; bsonSha256: string; indexes: string; options: string }>> {
  const out: Record<string, { documents: number; ejsonSha256: string; bsonSha256: string; indexes: string; options: string }> = {};
  const colls = (await db.listCollections({}, { nameOnly: false }).toArray()).filter((c) => !c.name.startsWith("system."));
  for (const c of colls.sort((a, b) => a.name.localeCompare(b.name))) {
    const ejson = createHash("sha256");
    const bson = createHash("sha256");
    let documents = 0;
    for await (const raw of db.collection(c.name).find({}, { raw: true, sort: { _id: 1 } }) as AsyncIterable<unknown>) {
      const b = raw as Buffer;
      bson.update(b);
      ejson.update(BSON.EJSON.stringify(BSON.deserialize(b, { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true }), { relaxed: false }) + "\n");
      documents++;
    }
    const indexes = (await db.collection(c.name).listIndexes().toArray()).map(({ v: _v, ns: _ns, ...spec }) => BSON.EJSON.stringify(spec, { relaxed: false })).sort();
    out[c.name] = { documents, ejsonSha256: ejson.digest("hex"), bsonSha256: bson.digest("hex"), indexes: indexes.join("\n"), options: BSON.EJSON.stringify((c as { options?: Document }).options ?? {}, { relaxed: false }) };
  }
  return out;
}

/** `count` keys spread over DBs 0–5, of every type, most with a TTL. Returns how many were written. */
export async function generateKeys(connect: (db: number) => Promise<Redis>, count: number): Promise<number> {
  let written = 0;
  for (let db = 0; db < 6; db++) {
    const r = await connect(db);
    try {
      const per = Math.ceil(count / 6);
      for (let off = 0; off < per; off += 2000) {
        const p = r.pipeline();
        for (let i = off; i < Math.min(per, off + 2000); i++) {
          const k = `nexus:gen:${db}:${i}`;
          const ttl = 600 + (i % 3000);
          switch (i % 10) {
            case 0:
              p.hset(`${k}:h`, { name: `n${i}`, score: String(i), blob: "\u0000\u0001binary" });
              p.expire(`${k}:h`, ttl);
              break;
            case 1:
              p.rpush(`${k}:l`, "a", String(i), "c");
              break;
            case 2:
              p.sadd(`${k}:s`, "x", String(i), "z");
              p.expire(`${k}:s`, ttl);
              break;
            case 3:
              p.zadd(`${k}:z`, 1.5, "one", i, "two");
              p.expire(`${k}:z`, ttl);
              break;
            default:
              p.set(`${k}:str`, `value-${i}-${"v".repeat(i % 40)}`, "EX", ttl);
          }
          written++;
        }
        await p.exec();
      }
      if (db === 0) {
        await r.xadd("nexus:gen:stream", "1-1", "field", "value");
        await r.set("nexus:gen:persistent", "no ttl");
        written += 2;
      }
    } finally {
      r.disconnect();
    }
  }
  return written;
}

/** Every key of the given databases: type, value in a comparable form, absolute expiry (ms). */
export async function redisSnapshot(connect: (db: number) => Promise<Redis>, dbs: number[]): Promise<Map<string, { type: string; value: string; expireAt: number }>> {
  const out = new Map<string, { type: string; value: string; expireAt: number }>();
  for (const db of dbs) {
    const r = await connect(db);
    try {
      let cursor = "0";
      do {
        const [next, keys] = await r.scan(cursor, "COUNT", 2000);
        cursor = next;
        const p = r.pipeline();
        for (const k of keys) {
          p.type(k);
          p.call("PEXPIRETIME", k);
          p.dump(k);
        }
        const replies = (await p.exec()) ?? [];
        const values = r.pipeline();
        const types: string[] = [];
        keys.forEach((k, i) => {
          const type = String(replies[3 * i][1]);
          types.push(type);
          if (type === "string") values.get(k);
          else if (type === "hash") values.hgetall(k);
          else if (type === "list") values.lrange(k, 0, -1);
          else if (type === "set") values.smembers(k);
          else if (type === "zset") values.zrange(k, 0, -1, "WITHSCORES");
          else values.xrange(k, "-", "+");
        });
        const vals = (await values.exec()) ?? [];
        keys.forEach((k, i) => {
          let v = vals[i][1];
          if (types[i] === "set") v = [...(v as string[])].sort();
          out.set(`${db}/${k}`, { type: types[i], value: JSON.stringify(v), expireAt: Number(replies[3 * i + 1][1]) });
        });
      } while (cursor !== "0");
    } finally {
      r.disconnect();
    }
  }
  return out;
}

/**
 * A small source to back up: a `notes` table of `rows` rows in PostgreSQL, and one key with an hour's
 * TTL in logical database `db` of Redis (what the command-line and scheduled-backup tests restore).
 */
export async function smallSource(pgUrl: string, rows: number, redis: { url: string; db: number; key: string; value: string }): Promise<void> {
  await withClient(pgUrl, async (c) => {
    await c.query("CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL)");
    await c.query(`INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, ${rows}) g`);
  });
  const r = await redisClient({ url: redis.url }, redis.db);
  try {
    await r.set(redis.key, redis.value, "EX", 3600);
  } finally {
    r.disconnect();
  }
}
