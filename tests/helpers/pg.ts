import { Client } from "pg";
import { DATABASE_URL, pgUrlFor, uniqueSuffix } from "./env";

/** A fresh, empty PostgreSQL database for one test; `drop()` removes it. */
export interface FreshDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function freshDatabase(prefix = "t"): Promise<FreshDatabase> {
  const name = `nexus_${prefix}_${uniqueSuffix()}`.toLowerCase();
  const admin = new Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: pgUrlFor(name),
    async drop() {
      const c = new Client({ connectionString: DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Runs `fn` with a connected client to `url`, always closing it. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Runs `fn` on `url` inside a transaction that is always rolled back (the database stays as it was). */
export function rolledBack<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  return withClient(url, async (c) => {
    await c.query("BEGIN");
    try {
      return await fn(c);
    } finally {
      await c.query("ROLLBACK");
    }
  });
}
