// The platform's database users, kept idempotently: the stored SCRAM credentials are compared with
// the desired password locally (RFC 5802/7677 key derivation), so an unchanged password sends no
// write and a changed one sends one `updateUser`.
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import type { Db, Document } from "mongodb";

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

/** The desired users as they stand on the server (absent ones are left out). */
export async function observeUsers(db: Db, desired: readonly DesiredUser[]): Promise<Map<string, ObservedUser>> {
  const out = new Map<string, ObservedUser>();
  if (desired.length === 0) return out;
  const r = await db.command({
    usersInfo: desired.map((u) => ({ user: u.name, db: db.databaseName })),
    showCredentials: true,
  });
  for (const u of (r.users ?? []) as Document[]) {
    const want = desired.find((d) => d.name === u.user);
    if (!want) continue;
    out.set(u.user, {
      name: u.user,
      roles: ((u.roles ?? []) as RoleRef[]).map((x) => ({ role: x.role, db: x.db })),
      passwordMatches: passwordMatchesCredentials(u.user, want.password, u.credentials),
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
