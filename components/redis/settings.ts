// What the Redis backends share: the settings in effect (the stack's, or a container's variant of
// them), the passwords of the ACL users and the endpoint shape. No component here, so no cycle.
import type { StackConfig } from "../../config/schema";
import { parseRedisSettings, type RedisSettings } from "../../engines/redis/settings";
import type * as pulumi from "@pulumi/pulumi";

export const REDIS_CONF_DIR = "/usr/local/etc/redis";

export interface RedisPasswords {
  admin: pulumi.Input<string>;
  app: pulumi.Input<string>;
  readonly: pulumi.Input<string>;
  warmup: pulumi.Input<string>;
}

/** How a client reaches the server as one of the ACL users. */
export interface RedisEndpoint {
  host: string;
  port: number;
  tls: boolean;
  caPem?: string;
}

/** The parsed settings back to their input form (the schema re-applies defaults). */
export function stripDefaults(s: RedisSettings): Record<string, unknown> {
  return JSON.parse(JSON.stringify(s)) as Record<string, unknown>;
}

/** The stack's settings as the server gets them (the passwordless default user only on dev, local, ci). */
export function stackRedisSettings(config: StackConfig): RedisSettings {
  const dev = ["dev", "local", "ci"].includes(config.environment);
  return parseRedisSettings(stripDefaults(config.redis.settings), { dev, path: "nexus-db:redis.settings" });
}

/** The settings a container runs with: every interface inside its network, TLS only when certificates exist. */
export function containerRedisSettings(config: StackConfig, withTls: boolean): RedisSettings {
  const dev = config.environment === "dev";
  const s = config.redis.settings;
  return parseRedisSettings(
    {
      ...stripDefaults(s),
      bind: ["0.0.0.0", "::"],
      // The container is reached only through its network and a loopback-bound port; ACL users guard it.
      protectedMode: false,
      port: withTls ? 0 : 6379,
      tls: withTls
        ? { ...s.tls, port: 6379, certFile: `${REDIS_CONF_DIR}/tls/server.crt`, keyFile: `${REDIS_CONF_DIR}/tls/server.key`, caCertFile: `${REDIS_CONF_DIR}/tls/ca.crt` }
        : {},
      persistence: { ...s.persistence, dir: "/data" },
      aclFile: `${REDIS_CONF_DIR}/users.acl`,
    },
    { dev, path: "nexus-db:redis.settings" },
  );
}
