// The `external` backend of `nexus:db:Redis`: a server that exists, brought to the settings it
// allows by the `RedisServerSettings` dynamic resource (what it refuses is listed in `notApplied`).
import * as pulumi from "@pulumi/pulumi";
import { readFileSync } from "node:fs";
import { RedisServerSettings } from "../../providers/redis-settings";
import type { RedisBackend } from "./backend";
import { stackRedisSettings, stripDefaults } from "./settings";

export const externalRedis: RedisBackend = (name, args) => {
  const x = args.config.redis.external;
  const settings = stackRedisSettings(args.config);
  const caPem = x.caFile ? readFileSync(x.caFile, "utf8") : undefined;
  const applied = new RedisServerSettings(
    `${name}-settings`,
    {
      admin: pulumi.output(args.adminPassword).apply((pw) => ({
        host: x.host,
        port: x.port,
        username: x.adminUser,
        ...(pw ? { password: pw } : {}),
        useTls: x.tls,
        ...(caPem ? { caPem } : {}),
      })),
      settings: stripDefaults(settings),
      dev: ["dev", "local", "ci"].includes(args.config.environment),
      passwords: args.allPasswords,
      control: x.control,
    },
    { parent: args.parent },
  );
  return {
    settings,
    notApplied: applied.notApplied,
    endpoint: pulumi.output({ host: x.host, port: x.port, tls: x.tls, ...(caPem ? { caPem } : {}) }),
    ready: [applied],
  };
};
