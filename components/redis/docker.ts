// The `docker` backend of `nexus:db:Redis`: a `redis` container running the rendered redis.conf and
// ACL file (TLS only when the stack has certificates), health-checked as the read-only user.
import * as pulumi from "@pulumi/pulumi";
import { renderAclFile, renderRedisConf } from "../../engines/redis/render";
import { REDIS_DECLARATIONS } from "../../redis/declarations";
import { dockerStore, stackContainerArgs, type StoreFile } from "../docker-store";
import type { RedisBackend } from "./backend";
import { REDIS_CONF_DIR, containerRedisSettings } from "./settings";

export const dockerRedis: RedisBackend = (name, args) => {
  const c = args.config.redis;
  if (!args.network) throw new Error("nexus-db:redis.backend docker needs the docker network");
  const withTls = args.tls !== undefined;
  const settings = containerRedisSettings(args.config, withTls);
  const redisConf = renderRedisConf(settings);
  const acl = pulumi.secret(args.allPasswords.apply((pw) => renderAclFile(settings, pw, REDIS_DECLARATIONS)));
  // The image's redis user is uid/gid 999; the ACL file and the key are for it alone.
  const files: StoreFile[] = [
    { path: `${REDIS_CONF_DIR}/redis.conf`, content: redisConf },
    { path: `${REDIS_CONF_DIR}/users.acl`, content: acl, owner: "999:999", mode: "0600" },
  ];
  if (args.tls) {
    files.push(
      { path: `${REDIS_CONF_DIR}/tls/ca.crt`, content: args.tls.caCertPem },
      { path: `${REDIS_CONF_DIR}/tls/server.crt`, content: args.tls.server.certPem },
      { path: `${REDIS_CONF_DIR}/tls/server.key`, content: args.tls.server.keyPem, owner: "999:999", mode: "0600" },
    );
  }
  const tlsFlags = withTls ? `--tls --cacert ${REDIS_CONF_DIR}/tls/ca.crt ` : "";
  const store = dockerStore(name, {
    ...stackContainerArgs("redis", args.config, args.network, args.parent),
    settings: c.docker,
    containerPort: 6379,
    dataPath: "/data",
    command: ["redis-server", `${REDIS_CONF_DIR}/redis.conf`],
    // The health check logs in as the read-only user: the default user is off outside dev.
    envs: [pulumi.interpolate`REDISCLI_AUTH=${args.passwords.readonly}`],
    files,
    healthcheck: [`redis-cli ${tlsFlags}--user ${settings.acl.users.readonly.name} -h 127.0.0.1 -p 6379 ping | grep -q PONG`],
    // The warmup, the only resource that connects, waits for the server to answer itself.
    waitHealthy: false,
  });
  return {
    settings,
    redisConf,
    endpoint: pulumi.output(args.tls?.caCertPem).apply((ca) => ({ host: "127.0.0.1", port: c.docker.hostPort, tls: withTls, ...(ca ? { caPem: ca } : {}) })),
    ready: [store.container],
  };
};
