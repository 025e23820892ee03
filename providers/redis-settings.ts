// `RedisServerSettings`: brings a running Redis (an existing server, a CI service) as close to the
// stack's settings as it allows — CONFIG SET for runtime settings, ACL SETUSER for the users — and
// reports, as outputs, what the server refused (a managed service takes those through its own API).
// A thin dynamic provider over engines/redis/apply.ts.
import * as pulumi from "@pulumi/pulumi";
import type { RedisOptions } from "ioredis";
import type { AclPasswords } from "../engines/redis/render";
import type { RedisSettingsInput } from "../engines/redis/settings";
import { NexusDynamicResource } from "./resource";
import { loadEngine, outputsOf, updateWhenChanged } from "./runtime";

type ApplyEngine = typeof import("../engines/redis/apply");
type SettingsEngine = typeof import("../engines/redis/settings");

interface Inputs {
  /** The admin connection: host, port, username, password, tls. */
  admin: RedisOptions & { caPem?: string; useTls?: boolean };
  settings: RedisSettingsInput;
  /** Treat the settings as a dev stack's (default user allowed). */
  dev: boolean;
  passwords: AclPasswords;
  /** "managed": only ACL users (CONFIG is refused by such services); "full": both. */
  control: "full" | "managed";
}

async function apply(inputs: Inputs) {
  // require, not import(): a dynamic import() compiles to a loader the closure serializer may not capture (vitest's).
  const IORedis = (require("ioredis") as typeof import("ioredis")).default;
  const { applyRedisSettings } = loadEngine<ApplyEngine>("engines/redis/apply");
  const { parseRedisSettings } = loadEngine<SettingsEngine>("engines/redis/settings");
  // The platform's declarations, passed to the engine (which imports none).
  const { REDIS_DECLARATIONS } = loadEngine<typeof import("../redis/declarations")>("redis/declarations");
  const settings = parseRedisSettings(inputs.settings, { dev: inputs.dev, keyspace: REDIS_DECLARATIONS.keyspace });
  const { caPem, useTls, ...opts } = inputs.admin;
  const client = new IORedis({ ...opts, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, ...(useTls ? { tls: caPem ? { ca: caPem } : {} } : {}) });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const report = await applyRedisSettings(client, settings, inputs.passwords, REDIS_DECLARATIONS, { config: inputs.control === "full", users: true });
    return {
      applied: report.applied,
      notApplied: report.notApplied.map((n) => `${n.item}: ${n.reason}`),
    };
  } finally {
    client.disconnect();
  }
}

/** The admin connection and the users' passwords: secrets, never outputs (delete needs neither). */
const SETTINGS_CREDENTIALS = ["admin", "passwords"];

export const redisSettingsProvider: pulumi.dynamic.ResourceProvider<Inputs> = {
  async diff(_id, olds, news) {
    return updateWhenChanged(olds, news, ["settings", "dev", "control"], SETTINGS_CREDENTIALS);
  },
  async create(inputs) {
    const r = await apply(inputs);
    return { id: `redis-settings/${inputs.admin.host}:${inputs.admin.port}`, outs: outputsOf(inputs, SETTINGS_CREDENTIALS, r) };
  },
  async update(_id, _olds, news) {
    return { outs: outputsOf(news, SETTINGS_CREDENTIALS, await apply(news)) };
  },
  // The server keeps its settings and users: the running backend depends on them.
  async delete() {},
};

export interface RedisServerSettingsArgs {
  admin: pulumi.Input<Inputs["admin"]>;
  settings: pulumi.Input<RedisSettingsInput>;
  dev: pulumi.Input<boolean>;
  passwords: pulumi.Input<AclPasswords>;
  control?: pulumi.Input<"full" | "managed">;
}

export class RedisServerSettings extends NexusDynamicResource {
  /** Settings and users this update put in effect. */
  declare readonly applied: pulumi.Output<string[]>;
  /** What the server refused, each with the reason. */
  declare readonly notApplied: pulumi.Output<string[]>;
  constructor(name: string, args: RedisServerSettingsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      { type: "RedisServerSettings", credentials: SETTINGS_CREDENTIALS },
      { module: "providers/redis-settings.ts", name: "redisSettingsProvider" },
      name,
      {
        admin: args.admin,
        settings: args.settings,
        dev: args.dev,
        passwords: args.passwords,
        control: args.control ?? "full",
        applied: undefined,
        notApplied: undefined,
      },
      opts,
    );
  }
}
