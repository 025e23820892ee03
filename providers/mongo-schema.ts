// MongoSchema: the Mongo reconciler (engines/mongo) as a Pulumi dynamic resource. A thin adapter:
// `check` plans against the live server and puts the plan's lines into the `pendingActions` input,
// so `pulumi preview --diff` shows each action; `diff` says update when the plan has work (or
// would be refused); `create`/`update` apply; `delete` drops collections only when the stack
// allows it (dev). Dynamic resources cannot refresh (pulumi/pulumi#16175): drift is found by the
// plan that `check` makes on every preview.
import * as pulumi from "@pulumi/pulumi";
import type { Capabilities, CollectionDeclaration, MongoFeature } from "../engines/mongo";
import { NexusDynamicResource } from "./resource";
import { CREDENTIALS_FINGERPRINT, credentialsFingerprint, hasUnknown, loadEngine, outputsOf } from "./runtime";

type Engine = typeof import("../engines/mongo");

/** How to reach the server. Secret as a whole: the URL carries credentials. */
export interface MongoConnection {
  url: string;
  tls?: { enabled?: boolean; caFile?: string; caPem?: string; certificateKeyFile?: string; allowInvalidHostnames?: boolean };
}

export interface MongoSchemaUsers {
  app: { name: string; password: string };
  analytics: { name: string; password: string };
}

export interface MongoSchemaArgs {
  /** The server; pass it as a secret (pulumi.secret). Required. */
  connection: pulumi.Input<MongoConnection>;
  /** The platform database. Required. */
  database: pulumi.Input<string>;
  /** The declarations, e.g. `nexusCollections(settings.ttl)` from mongo/collections. Required. */
  collections: pulumi.Input<CollectionDeclaration[]>;
  /** Application (readWrite) and analytics (read) users; passwords as secrets. Default: users not managed. */
  users?: pulumi.Input<MongoSchemaUsers>;
  /** Declared features the server may lack (local FerretDB). Default []. */
  allowMissingFeatures?: pulumi.Input<MongoFeature[]>;
  /** Declared rules the server may leave unenforced, by the plan's names (a protected stack refuses any other). Default []. */
  allowUnenforcedRules?: pulumi.Input<string[]>;
  /** Protected stack: nothing may be missing, no collection is dropped. Default false. */
  protected?: pulumi.Input<boolean>;
  /** Drop the collections nexus-db created when they leave the declarations or the resource is deleted. Default false (dev only). */
  dropCollectionsOnDelete?: pulumi.Input<boolean>;
}

/** The inputs as the provider sees them, after `check`. */
export interface MongoSchemaInputs {
  connection: MongoConnection;
  database: string;
  collections: CollectionDeclaration[];
  users?: MongoSchemaUsers;
  allowMissingFeatures: MongoFeature[];
  allowUnenforcedRules?: string[];
  protected: boolean;
  dropCollectionsOnDelete: boolean;
  /** The plan's lines at preview time: what `pulumi preview --diff` shows. */
  pendingActions: string[];
  /** Whether applying sends anything, and why apply would refuse (unsupported features, conflicts). */
  pendingWrites: number;
  refusals: string[];
  /** The server's capabilities (not secret): reused while the server build is unchanged. */
  capabilities?: Capabilities;
}

export interface MongoSchemaOutputs {
  /** Kept (a secret output) only when delete drops collections: delete must reach the server then. */
  connection?: MongoConnection;
  /** sha256 of the connection and the users' passwords: a rotated password is an update. */
  credentialsFingerprint?: string;
  database: string;
  server: string;
  managedCollections: string[];
  /** `collection.index` names. */
  managedIndexes: string[];
  /** What the last create/update did, in words. */
  appliedActions: string[];
  /** Declared features the server lacks (allowed missing in this stack). */
  unsupported: string[];
  /** Indexes and collections nexus-db leaves alone. */
  unmanaged: string[];
  capabilities: Capabilities;
  allowMissingFeatures: MongoFeature[];
  protected: boolean;
  dropCollectionsOnDelete: boolean;
}

/** An index declaration as it travels through Pulumi: its key as ordered [field, direction] pairs. */
type WireIndex = Omit<CollectionDeclaration["indexes"][number], "key"> & { keyFields: [string, number | string][] };
type WireCollection = Omit<CollectionDeclaration, "indexes"> & { indexes: WireIndex[] };

/**
 * Pulumi stores objects as property maps with sorted keys, which would turn a compound index
 * `{ submission_id: 1, engine_id: 1 }` into `{ engine_id: 1, submission_id: 1 }` — another index.
 * Index keys therefore travel as ordered pairs and are rebuilt in `check`.
 */
export function collectionsToWire(collections: CollectionDeclaration[]): WireCollection[] {
  return collections.map((c) => ({
    ...c,
    indexes: c.indexes.map(({ key, ...rest }) => ({ ...rest, keyFields: Object.entries(key) as [string, number | string][] })),
  }));
}

/** The inverse of collectionsToWire; declarations that already carry `key` pass unchanged. */
export function collectionsFromWire(collections: unknown[]): CollectionDeclaration[] {
  return (collections as (WireCollection | CollectionDeclaration)[]).map((c) => ({
    ...c,
    indexes: (c.indexes as (WireIndex | CollectionDeclaration["indexes"][number])[]).map((i) => {
      if (!("keyFields" in i) || !Array.isArray(i.keyFields)) return i as CollectionDeclaration["indexes"][number];
      const { keyFields, ...rest } = i;
      return { ...rest, key: Object.fromEntries(keyFields) } as CollectionDeclaration["indexes"][number];
    }),
  }));
}


/** Inputs that carry credentials: secrets, and no output (but the connection of a stack that drops on delete). */
const MONGO_CREDENTIALS = ["connection", "users"];

/**
 * The provider's methods. They capture nothing but `loadEngine` (see providers/runtime.ts): the
 * engine and the driver are loaded inside each call. Exported for tests.
 */
export const mongoSchemaProvider: pulumi.dynamic.ResourceProvider<MongoSchemaInputs, MongoSchemaOutputs> = {
  async check(olds: Partial<MongoSchemaInputs>, news: Partial<MongoSchemaInputs>) {
    const engine = loadEngine<Engine>("engines/mongo/index");
    const failures: pulumi.dynamic.CheckFailure[] = [];
    if (!news.database || typeof news.database !== "string") failures.push({ property: "database", reason: "the platform database name is required" });
    if (!Array.isArray(news.collections)) failures.push({ property: "collections", reason: "the collection declarations are required" });
    else if (!hasUnknown(news.collections)) {
      // The inputs keep the wire form (what the state can hold); the engine gets the declarations.
      for (const p of engine.checkDeclarations(collectionsFromWire(news.collections))) failures.push({ property: "collections", reason: `${p.where}: ${p.message}` });
    }
    const inputs: MongoSchemaInputs = {
      connection: news.connection as MongoConnection,
      database: news.database as string,
      collections: (news.collections ?? []) as CollectionDeclaration[],
      users: news.users,
      allowMissingFeatures: news.allowMissingFeatures ?? [],
      allowUnenforcedRules: news.allowUnenforcedRules ?? [],
      protected: news.protected ?? false,
      dropCollectionsOnDelete: news.dropCollectionsOnDelete ?? false,
      pendingActions: [],
      pendingWrites: 0,
      refusals: [],
    };
    if (inputs.protected && inputs.dropCollectionsOnDelete) {
      failures.push({ property: "dropCollectionsOnDelete", reason: "a protected stack never drops collections; set it to false" });
    }
    if (inputs.protected && inputs.allowMissingFeatures.length > 0) {
      failures.push({ property: "allowMissingFeatures", reason: "a protected stack must have every feature" });
    }
    if (failures.length > 0) return { inputs, failures };

    if (hasUnknown(news.connection) || hasUnknown(news.database) || hasUnknown(news.collections) || hasUnknown(news.users)) {
      // The server does not exist yet (first preview): plan against an empty one with every feature.
      const plan = engine.planChanges({
        database: String(inputs.database),
        collections: hasUnknown(news.collections) ? [] : collectionsFromWire(inputs.collections),
        observed: { collections: new Map(), managed: new Map() },
        capabilities: engine.fullCapabilities("server not reachable yet"),
      });
      inputs.pendingActions = ["(server not reachable yet: planned as for an empty server)", ...engine.planLines(plan)];
      inputs.pendingWrites = plan.steps.length;
      return { inputs };
    }

    let r: Awaited<ReturnType<typeof reconcile>>;
    try {
      r = await reconcile(engine, inputs, olds.capabilities);
    } catch (e) {
      // Not reachable at preview (a server on a network only the deploy runner sees): plan as
      // for an empty server and say so; `create`/`update` connect for real and fail there.
      const plan = engine.planChanges({
        database: String(inputs.database),
        collections: collectionsFromWire(inputs.collections),
        observed: { collections: new Map(), managed: new Map() },
        capabilities: engine.fullCapabilities("server not reachable at preview"),
      });
      inputs.pendingActions = [`(server not reachable at preview: ${(e as Error).message.split("\n")[0]}; planned as for an empty server)`, ...engine.planLines(plan)];
      inputs.pendingWrites = plan.steps.length;
      return { inputs };
    }
    try {
      const plan = await r.reconciler.plan();
      inputs.capabilities = await r.reconciler.capabilities();
      inputs.pendingActions = engine.planLines(plan);
      inputs.pendingWrites = plan.steps.length;
      inputs.refusals = [...engine.blockingUnsupported(plan, inputs), ...engine.blockingUnenforced(plan, inputs), ...plan.conflicts];
    } finally {
      await r.close();
    }
    return { inputs };
  },

  async diff(_id: string, olds: MongoSchemaOutputs, news: MongoSchemaInputs) {
    const credentialsChanged = hasUnknown(news.connection) || hasUnknown(news.users) || olds[CREDENTIALS_FINGERPRINT] !== credentialsFingerprint(news, MONGO_CREDENTIALS);
    const settingsChanged =
      credentialsChanged ||
      olds.database !== news.database ||
      olds.protected !== news.protected ||
      olds.dropCollectionsOnDelete !== news.dropCollectionsOnDelete ||
      JSON.stringify([...(olds.allowMissingFeatures ?? [])].sort()) !== JSON.stringify([...news.allowMissingFeatures].sort());
    return {
      // A refused plan is a change too, so that `up` stops with the reasons instead of passing silently.
      changes: news.pendingWrites > 0 || news.refusals.length > 0 || settingsChanged || hasUnknown(news.pendingActions),
      // Another database is another set of collections: create it, then delete the old resource
      // (which keeps its collections unless dropCollectionsOnDelete). Never delete-before-replace.
      replaces: olds.database !== undefined && olds.database !== news.database ? ["database"] : [],
      deleteBeforeReplace: false,
    };
  },

  async create(inputs: MongoSchemaInputs) {
    const engine = loadEngine<Engine>("engines/mongo/index");
    const outs = await applyInputs(engine, inputs);
    return { id: `mongo:${inputs.database}`, outs };
  },

  async update(_id: string, _olds: MongoSchemaOutputs, news: MongoSchemaInputs) {
    const engine = loadEngine<Engine>("engines/mongo/index");
    return { outs: await applyInputs(engine, news) };
  },

  async delete(_id: string, props: MongoSchemaOutputs) {
    // Collections stay unless this stack drops them (dev only); users stay.
    if (!props.dropCollectionsOnDelete || props.protected || !props.connection) return;
    const engine = loadEngine<Engine>("engines/mongo/index");
    const r = await reconcile(engine, { ...props, connection: props.connection, collections: [], users: undefined, allowMissingFeatures: props.allowMissingFeatures ?? [] }, props.capabilities);
    try {
      await r.reconciler.apply();
    } finally {
      await r.close();
    }
  },
};

async function reconcile(
  engine: Engine,
  inputs: Pick<MongoSchemaInputs, "connection" | "database" | "collections" | "users" | "allowMissingFeatures" | "allowUnenforcedRules" | "protected" | "dropCollectionsOnDelete">,
  previous: Capabilities | undefined,
) {
  const client = await engine.connectMongo(inputs.connection.url, inputs.connection.tls);
  const users = inputs.users
    ? engine.platformUsers(inputs.database, inputs.users.app, inputs.users.analytics)
    : undefined;
  const reconciler = new engine.MongoReconciler({
    client,
    database: inputs.database,
    collections: collectionsFromWire(inputs.collections),
    users,
    allowMissingFeatures: inputs.allowMissingFeatures,
    allowUnenforcedRules: inputs.allowUnenforcedRules ?? [],
    protected: inputs.protected,
    dropCollectionsOnDelete: inputs.dropCollectionsOnDelete,
    previousCapabilities: previous,
  });
  return { reconciler, close: () => client.close() };
}

async function applyInputs(engine: Engine, inputs: MongoSchemaInputs): Promise<MongoSchemaOutputs> {
  const r = await reconcile(engine, inputs, inputs.capabilities);
  try {
    const { plan, result } = await r.reconciler.apply();
    const dropsOnDelete = inputs.dropCollectionsOnDelete && !inputs.protected;
    const { credentialsFingerprint, connection } = outputsOf(inputs, MONGO_CREDENTIALS, {}, dropsOnDelete ? ["connection"] : []) as Partial<MongoSchemaOutputs>;
    return {
      ...(connection ? { connection } : {}),
      credentialsFingerprint,
      database: inputs.database,
      server: plan.server,
      managedCollections: plan.managed.collections,
      managedIndexes: plan.managed.indexes,
      appliedActions: result.applied,
      unsupported: plan.unsupported.map((u) => u.text),
      unmanaged: plan.unmanaged,
      capabilities: await r.reconciler.capabilities(),
      allowMissingFeatures: inputs.allowMissingFeatures,
      protected: inputs.protected,
      dropCollectionsOnDelete: inputs.dropCollectionsOnDelete,
    };
  } finally {
    await r.close();
  }
}

/** The platform's MongoDB collections, validators, indexes and users, converged by the reconciler. */
export class MongoSchema extends NexusDynamicResource {
  declare readonly database: pulumi.Output<string>;
  declare readonly server: pulumi.Output<string>;
  declare readonly managedCollections: pulumi.Output<string[]>;
  declare readonly managedIndexes: pulumi.Output<string[]>;
  declare readonly appliedActions: pulumi.Output<string[]>;
  declare readonly pendingActions: pulumi.Output<string[]>;
  declare readonly unsupported: pulumi.Output<string[]>;
  declare readonly unmanaged: pulumi.Output<string[]>;

  constructor(name: string, args: MongoSchemaArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      // Registered with the SDK's generic `pulumi-nodejs:dynamic:Resource` before the one convention.
      { type: "MongoSchema", credentials: MONGO_CREDENTIALS, formerTypes: ["pulumi-nodejs:dynamic:Resource"] },
      { module: "providers/mongo-schema.ts", name: "mongoSchemaProvider" },
      name,
      {
        connection: args.connection,
        database: args.database,
        collections: pulumi.output(args.collections).apply((c) => collectionsToWire(c as CollectionDeclaration[])),
        users: args.users,
        allowMissingFeatures: args.allowMissingFeatures ?? [],
        allowUnenforcedRules: args.allowUnenforcedRules ?? [],
        protected: args.protected ?? false,
        dropCollectionsOnDelete: args.dropCollectionsOnDelete ?? false,
        // Filled by check (the plan); listed here so they are outputs of the resource too.
        pendingActions: undefined,
        server: undefined,
        managedCollections: undefined,
        managedIndexes: undefined,
        appliedActions: undefined,
        unsupported: undefined,
        unmanaged: undefined,
      },
      opts,
    );
  }
}
