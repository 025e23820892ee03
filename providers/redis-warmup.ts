// RedisWarmup: the cache warmup engine (engines/redis/warmup) as a Pulumi dynamic resource. A thin
// adapter: `check` asks the engine whether Redis holds the current version of the data (the marker
// keys, when PostgreSQL and Redis are reachable) and puts the answer into the `pendingReasons`
// input, so `pulumi preview --diff` shows why a re-warm will happen; `diff` says update when there
// is a reason; `create`/`update` warm; `delete` leaves the cache alone (it is a cache).
// Dynamic resources cannot refresh (pulumi/pulumi#16175): the marker check on every preview is
// how a flushed or evicted cache is noticed.
import * as pulumi from "@pulumi/pulumi";
import type { RedisOptions } from "ioredis";
import type { KeyspaceOptions } from "../redis/layout";
import { NexusDynamicResource } from "./resource";
import { hasUnknown, loadEngine } from "./runtime";

type Engine = typeof import("../engines/redis/warmup");

/** Where the warmup reads and writes. Secret as a whole: both carry credentials. */
export interface RedisWarmupConnections {
  /** PostgreSQL URL, or pg client settings (TLS with a CA given as PEM), of a role that may read the warmup's tables. */
  database: import("../engines/postgres/schema-resource").SchemaConnection;
  /** Redis URL (or ioredis options) of the warmup ACL user. */
  redis: string | Pick<RedisOptions, "host" | "port" | "username" | "password" | "tls">;
}

export interface RedisWarmupArgs {
  /** PostgreSQL and Redis connections; wrapped with pulumi.secret here. Required. */
  connections: pulumi.Input<RedisWarmupConnections>;
  /** Keyspace mode: cluster (key prefixes on DB 0) and key prefix. Default standalone, "nexus:". */
  keyspace?: pulumi.Input<KeyspaceOptions>;
  /** Keys per pipeline. Default 1000. */
  batchSize?: pulumi.Input<number>;
}

/** The inputs as the provider sees them, after `check`. */
export interface RedisWarmupInputs {
  connections: RedisWarmupConnections;
  keyspace: KeyspaceOptions;
  batchSize: number;
  /** Hash of redis/warmup.ts's queries, prefixes and TTLs in this keyspace: a change re-warms. */
  specHash: string;
  /**
   * Why the next `up` warms, from the marker and row-digest check at preview time, with how many
   * keys each database will write and delete (e.g. "DB 3 (reputationCache): source data changed
   * …: 12 key(s) to write, 1 to delete, 4980 unchanged"); [] when Redis is current.
   */
  pendingReasons: string[];
}

/** Outputs: what the last warmup did. No connection and no secret. */
export interface RedisWarmupOutputs {
  keyspace: KeyspaceOptions;
  batchSize: number;
  specHash: string;
  /** The data+spec version the markers hold. */
  version: string;
  /** Source rows per warmup set. */
  counts: Record<string, number>;
  /** Keys written per logical database by the last create/update (empty when it had nothing to do). */
  written: Record<string, number>;
  /** Stale keys removed by the last create/update. */
  deleted: number;
  /** Why the last create/update warmed. */
  reasons: string[];
  /** What the server did not allow (e.g. INFO). */
  notes: string[];
  pendingReasons: string[];
}


/** pg settings for the warmup's PostgreSQL connection (URL, or host/user/sslMode/caPem). */
function pgClient(c: RedisWarmupConnections["database"]) {
  return loadEngine<typeof import("../engines/postgres/schema-resource")>("engines/postgres/schema-resource").clientConfig(c);
}

/**
 * The provider's methods. They capture nothing but `loadEngine` and the helpers above (see
 * providers/runtime.ts): the engine and its drivers are loaded inside each call. Exported for tests.
 */
export const redisWarmupProvider: pulumi.dynamic.ResourceProvider<RedisWarmupInputs, RedisWarmupOutputs> = {
  async check(_olds: Partial<RedisWarmupInputs>, news: Partial<RedisWarmupInputs>) {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const c = news.connections;
    if (!c || (!hasUnknown(c) && (!c.database || !["string", "object"].includes(typeof c.database) || !c.redis))) {
      failures.push({ property: "connections", reason: "connections.database (PostgreSQL URL) and connections.redis (the warmup user) are required" });
    }
    const batchSize = news.batchSize ?? 1000;
    if (!hasUnknown(batchSize) && !(Number.isInteger(batchSize) && batchSize > 0)) failures.push({ property: "batchSize", reason: "a positive integer" });
    const inputs: RedisWarmupInputs = {
      connections: c as RedisWarmupConnections,
      keyspace: news.keyspace ?? {},
      batchSize,
      specHash: "",
      pendingReasons: [],
    };
    if (failures.length > 0) return { inputs, failures };

    const engine = loadEngine<Engine>("engines/redis/warmup");
    const { buildKeyspaceLayout } = loadEngine<typeof import("../engines/redis/keyspace")>("engines/redis/keyspace");
    // The platform's declarations, passed to the engine (which imports none).
    const { REDIS_DECLARATIONS } = loadEngine<typeof import("../redis/declarations")>("redis/declarations");
    if (!hasUnknown(inputs.keyspace)) {
      try {
        inputs.specHash = engine.warmupSpecHash(REDIS_DECLARATIONS.warmup, buildKeyspaceLayout(REDIS_DECLARATIONS.keyspace, inputs.keyspace));
      } catch (e) {
        return { inputs, failures: [{ property: "keyspace", reason: (e as Error).message }] };
      }
    }
    if (hasUnknown(c) || hasUnknown(inputs.keyspace)) {
      inputs.pendingReasons = ["(Redis or PostgreSQL not known yet: warms on create)"];
      return { inputs };
    }
    try {
      const plan = await engine.warmupStatus({ database: pgClient(c!.database), redis: c!.redis, keyspace: inputs.keyspace }, REDIS_DECLARATIONS);
      inputs.pendingReasons = plan.reasons;
    } catch (e) {
      // Not reachable during preview (e.g. the server is created in this same update): warm then.
      inputs.pendingReasons = [`(marker not checked: ${(e as Error).message})`];
    }
    return { inputs };
  },

  async diff(_id: string, olds: RedisWarmupOutputs, news: RedisWarmupInputs) {
    const reasons = [
      ...news.pendingReasons,
      ...(olds.specHash !== news.specHash ? ["warmup spec changed"] : []),
      ...(JSON.stringify(olds.keyspace ?? {}) !== JSON.stringify(news.keyspace) ? ["keyspace changed"] : []),
    ];
    return {
      changes: reasons.length > 0 || olds.batchSize !== news.batchSize || hasUnknown(news.connections),
      // A warmup is never replaced: the new run overwrites its own keys in place.
      replaces: [],
      deleteBeforeReplace: false,
    };
  },

  async create(inputs: RedisWarmupInputs) {
    const outs = await warm(inputs);
    return { id: `redis-warmup:${inputs.specHash.slice(0, 12)}`, outs };
  },

  async update(_id: string, _olds: RedisWarmupOutputs, news: RedisWarmupInputs) {
    return { outs: await warm(news) };
  },

  async delete() {
    // The cached keys stay: they expire or are overwritten, and the app may be using them.
  },
};

/** How long a warmup waits for a Redis that is still starting. */
const SERVER_START_WAIT_MS = 60_000;

async function warm(inputs: RedisWarmupInputs): Promise<RedisWarmupOutputs> {
  const engine = loadEngine<Engine>("engines/redis/warmup");
  const { REDIS_DECLARATIONS } = loadEngine<typeof import("../redis/declarations")>("redis/declarations");
  const r = await engine.warmRedis(
    { database: pgClient(inputs.connections.database), redis: inputs.connections.redis, keyspace: inputs.keyspace },
    REDIS_DECLARATIONS,
    // A docker stack's Redis is created in the same `up` and not waited for until healthy.
    { batchSize: inputs.batchSize, serverStartWaitMs: SERVER_START_WAIT_MS },
  );
  return {
    keyspace: inputs.keyspace,
    batchSize: inputs.batchSize,
    specHash: inputs.specHash,
    version: r.version,
    counts: r.counts,
    written: r.written as Record<string, number>,
    deleted: r.deleted,
    reasons: r.warmed ? r.reasons : [],
    notes: r.notes,
    pendingReasons: [],
  };
}

/** The cache warmup of the platform's Redis from PostgreSQL. */
export class RedisWarmup extends NexusDynamicResource {
  declare readonly version: pulumi.Output<string>;
  declare readonly counts: pulumi.Output<Record<string, number>>;
  declare readonly written: pulumi.Output<Record<string, number>>;
  declare readonly deleted: pulumi.Output<number>;
  declare readonly reasons: pulumi.Output<string[]>;
  declare readonly notes: pulumi.Output<string[]>;
  declare readonly pendingReasons: pulumi.Output<string[]>;
  declare readonly specHash: pulumi.Output<string>;

  constructor(name: string, args: RedisWarmupArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      // Registered with the SDK's generic `pulumi-nodejs:dynamic:Resource` before the one convention.
      { type: "RedisWarmup", credentials: ["connections"], formerTypes: ["pulumi-nodejs:dynamic:Resource"] },
      { module: "providers/redis-warmup.ts", name: "redisWarmupProvider" },
      name,
      {
        connections: args.connections,
        keyspace: args.keyspace ?? {},
        batchSize: args.batchSize ?? 1000,
        // Filled by check; listed so they are outputs too.
        specHash: undefined,
        pendingReasons: undefined,
        version: undefined,
        counts: undefined,
        written: undefined,
        deleted: undefined,
        reasons: undefined,
        notes: undefined,
      },
      opts,
    );
  }
}

