// The local stack as a benchmark deploys it: the program on this machine's test servers with a
// database, roles, ACL users and key prefix of its own (tests/helpers/stack.ts: localStackFixture),
// in a project copy with a file backend of its own. `remove()` destroys it and drops what it made.
import type { Stack } from "@pulumi/pulumi/automation";
import { MongoClient } from "mongodb";
import { Client } from "pg";
import { DATABASE_URL, MONGODB_URL } from "../tests/helpers/env";
import { createStack, localStackFixture, projectCopy, type LocalStackFixture } from "../tests/helpers/stack";

export interface BenchLocalStack {
  stack: Stack;
  fixture: LocalStackFixture;
  /** Destroys the stack, removes it and its copy, drops its database, roles and Mongo users. */
  remove(): Promise<void>;
}

/** Creates (and, with `up`, deploys) a local stack tagged `tag`. */
export async function benchLocalStack(tag: string, opts: { up: boolean }): Promise<BenchLocalStack> {
  const fixture = localStackFixture(tag);
  const copy = projectCopy(`nexus-bench-${tag}-`);
  const stack = await createStack(copy, `${tag}${fixture.suffix}`, fixture.config());
  const remove = async () => {
    try {
      await stack.destroy({ color: "never" }).catch((e: Error) => console.error(`destroy ${stack.name}: ${e.message.split("\n")[0]}`));
      await stack.workspace.removeStack(stack.name, { force: true }).catch(() => undefined);
    } finally {
      copy.remove();
      const c = new Client({ connectionString: DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${fixture.db}" WITH (FORCE)`);
        for (const r of [fixture.roles.app, fixture.roles.readonly, fixture.roles.owner]) await c.query(`DROP ROLE IF EXISTS "${r}"`);
      } finally {
        await c.end();
      }
      const m = await MongoClient.connect(MONGODB_URL);
      try {
        await m.db(fixture.db).dropDatabase().catch(() => undefined);
        // Users belong to the server on DocumentDB (not to the database just dropped).
        for (const u of Object.values(fixture.mongoUsers)) await m.db(fixture.db).command({ dropUser: u }).catch(() => undefined);
      } finally {
        await m.close();
      }
    }
  };
  if (opts.up) {
    try {
      await stack.up({ color: "never" });
    } catch (e) {
      await remove();
      throw e;
    }
  }
  return { stack, fixture, remove };
}
