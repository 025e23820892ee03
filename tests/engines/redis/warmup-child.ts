// A warmup in a process of its own, for the lock tests: WARMUP_CHILD (JSON) says where to read and
// write, the spec, and how long to pause after each chunk of rows (so it holds the lock a while).
// Prints "locked" once it is writing (it holds the lock then), and the result as JSON at the end.
import { warmRedis, type WarmupConnections } from "../../../engines/redis/warmup";
import type { LockOptions } from "../../../engines/redis/lock";
import { KEYSPACE } from "../../../redis/layout";
import type { WarmupSpec } from "../../../redis/warmup";

interface ChildArgs {
  conn: WarmupConnections;
  spec: WarmupSpec;
  pauseMs: number;
  lock?: LockOptions;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.env.WARMUP_CHILD ?? "{}") as ChildArgs;
  let said = false;
  const r = await warmRedis(args.conn, { keyspace: KEYSPACE, warmup: args.spec }, {
    force: true,
    batchSize: 100,
    lock: args.lock,
    onProgress: async () => {
      if (!said) {
        said = true;
        process.stdout.write("locked\n");
      }
      await new Promise((res) => setTimeout(res, args.pauseMs));
    },
  });
  process.stdout.write(JSON.stringify({ warmed: r.warmed, written: r.written }) + "\n");
}

main().catch((e: unknown) => {
  process.stdout.write(`error ${(e as Error).message}\n`);
  process.exit(1);
});
