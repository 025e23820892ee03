// The platform's database users, kept idempotently: the stored SCRAM credentials are compared with
// the desired password locally (RFC 5802/7677 key derivation), so an unchanged password sends no
// write and a changed one sends one `updateUser`.
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { MongoClient, type Db, type Document, type MongoClientOptions } from "mongodb";

export interface RoleRef {
  role: string;
  db: string;
}

export interface DesiredUser {
  name: string;
  /** Secret: never written into a plan's text or any output. */
  password: string;
  roles: RoleRef[];
}

export interface ObservedUser {
  name: string;
  roles: RoleRef[];
  /** Whether the stored credentials match the desired password; undefined when they are not visible. */
  passwordMatches: boolean | undefined;
}

/** The application user (readWrite) and the analytics user (read) on the platform database. */
export function platformUsers(
  database: string,
  app: { name: string; password: string },
  analytics: { name: string; password: string },
): DesiredUser[] {
  return [
    { name: app.name, password: app.password, roles: [{ role: "readWrite", db: database }] },
    { name: analytics.name, password: analytics.password, roles: [{ role: "read", db: database }] },
  ];
}

interface ScramCredential {
  iterationCount: number;
  salt: string;
  storedKey: string;
  serverKey: string;
}

/** StoredKey and ServerKey (base64) of a SCRAM credential for this password, salt and count. */
export function scramKeys(
  mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-1",
  user: string,
  password: string,
  saltB64: string,
  iterations: number,
): { storedKey: string; serverKey: string } {
  const hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha1";
  // MongoDB's SCRAM-SHA-1 hashes the legacy MONGODB-CR digest, not the password itself.
  // SCRAM-SHA-256 uses SASLprep; NFKC covers it for the passwords this project generates.
  const secret =
    mechanism === "SCRAM-SHA-1"
      ? createHash("md5").update(`${user}:mongo:${password}`).digest("hex")
      : password.normalize("NFKC");
  const salted = pbkdf2Sync(secret, Buffer.from(saltB64, "base64"), iterations, hash === "sha256" ? 32 : 20, hash);
  const clientKey = createHmac(hash, salted).update("Client Key").digest();
  return {
    storedKey: createHash(hash).update(clientKey).digest("base64"),
    serverKey: createHmac(hash, salted).update("Server Key").digest("base64"),
  };
}

/** Whether `password` matches the stored credentials (undefined when none are shown). */
export function passwordMatchesCredentials(user: string, password: string, credentials: Document | undefined): boolean | undefined {
  if (!credentials) return undefined;
  for (const mech of ["SCRAM-SHA-256", "SCRAM-SHA-1"] as const) {
    const c = credentials[mech] as ScramCredential | undefined;
    if (!c?.salt || !c.storedKey) continue;
    const k = scramKeys(mech, user, password, c.salt, Number(c.iterationCount));
    return k.storedKey === c.storedKey && k.serverKey === c.serverKey;
  }
  return undefined;
}

/**
 * `usersInfo` for these users of the platform database. DocumentDB takes one user per command and
 * keeps every user in `admin`; it is asked that way when it refuses the list.
 */
export async function usersInfo(db: Db, names: readonly string[], showCredentials: boolean): Promise<Document> {
  const extra = showCredentials ? { showCredentials: true } : {};
  try {
    return await db.command({ usersInfo: names.map((user) => ({ user, db: db.databaseName })), ...extra });
  } catch (err) {
    if ((err as { code?: number }).code !== 2 || /showCredentials/.test((err as Error).message)) throw err;
    const users: Document[] = [];
    for (const user of names) users.push(...(((await db.command({ usersInfo: { user, db: "admin" }, ...extra })).users ?? []) as Document[]));
    return { users, ok: 1 };
  }
}

/**
 * The desired users as they stand on the server (absent ones are left out). A server that does not
 * show credentials (DocumentDB) is asked by logging in with the desired password instead.
 */
export async function observeUsers(db: Db, desired: readonly DesiredUser[]): Promise<Map<string, ObservedUser>> {
  const out = new Map<string, ObservedUser>();
  if (desired.length === 0) return out;
  let credentialsShown = true;
  const r = await usersInfo(db, desired.map((u) => u.name), true).catch(async (err: { code?: number }) => {
    if (err.code !== 2) throw err; // BadValue: "Unsupported field specified: 'showCredentials'"
    credentialsShown = false;
    return usersInfo(db, desired.map((u) => u.name), false);
  });
  for (const u of (r.users ?? []) as Document[]) {
    const want = desired.find((d) => d.name === u.user);
    if (!want) continue;
    out.set(u.user, {
      name: u.user,
      roles: ((u.roles ?? []) as RoleRef[]).map((x) => ({ role: x.role, db: x.db })),
      passwordMatches: credentialsShown ? passwordMatchesCredentials(u.user, want.password, u.credentials) : await canLogIn(db, u.user, want.password),
    });
  }
  return out;
}

export function rolesText(roles: readonly RoleRef[]): string {
  return roles.length === 0 ? "no roles" : roles.map((r) => `${r.role} on ${r.db}`).join(", ");
}

export function sameRoles(a: readonly RoleRef[], b: readonly RoleRef[]): boolean {
  const k = (r: readonly RoleRef[]) => r.map((x) => `${x.role}@${x.db}`).sort().join(",");
  return k(a) === k(b);
}

/** Options for a second client to the same server as `db`'s, logged in as `user`. */
export function loginOptions(db: Db, user: string, password: string): { url: string; options: MongoClientOptions } {
  const o = db.client.options;
  return {
    url: `mongodb://${o.hosts.map((h) => h.toString()).join(",")}/`,
    options: {
      auth: { username: user, password },
      authSource: db.databaseName,
      authMechanism: "SCRAM-SHA-256",
      directConnection: o.directConnection,
      serverSelectionTimeoutMS: 5000,
      tls: o.tls,
      tlsAllowInvalidHostnames: o.tlsAllowInvalidHostnames,
      tlsAllowInvalidCertificates: o.tlsAllowInvalidCertificates,
      ...(o.ca ? { ca: o.ca } : {}),
      ...(o.cert ? { cert: o.cert } : {}),
      ...(o.key ? { key: o.key } : {}),
    },
  };
}

/** Whether `user` logs in with `password` (false on an authentication failure, undefined when the server cannot be reached). */
export async function canLogIn(db: Db, user: string, password: string): Promise<boolean | undefined> {
  const { url, options } = loginOptions(db, user, password);
  const client = new MongoClient(url, options);
  try {
    await client.connect();
    await client.db(db.databaseName).command({ ping: 1 });
    return true;
  } catch (err) {
    return (err as { code?: number }).code === 18 || /auth/i.test((err as Error).message) ? false : undefined;
  } finally {
    await client.close().catch(() => undefined);
  }
}
