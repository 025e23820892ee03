// Everything the Redis engines are given about this platform: its keyspace and its warmup spec.
// Callers (components, providers, the CLI, tests) pass this to the engines; the engines import
// nothing from here.
import { KEYSPACE, type LogicalDatabaseName } from "./layout";
import { WARMUP_SPEC } from "./warmup";
import type { RedisDeclarations } from "../engines/redis/render";

export const REDIS_DECLARATIONS: RedisDeclarations<LogicalDatabaseName> = { keyspace: KEYSPACE, warmup: WARMUP_SPEC };
