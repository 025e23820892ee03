// The reconciler over TLS with a CA file and a client certificate. Uses MONGODB_TLS_URL with
// MONGODB_TLS_CA_FILE (and MONGODB_TLS_CERT_FILE) when set; otherwise starts a private FerretDB
// TLS listener (the binary scripts/bootstrap.sh builds) with certificates made here by openssl.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nexusCollections } from "../../../mongo/collections";
import { MongoReconciler, connectMongo, probeCapabilities, type Capabilities } from "../../../engines/mongo";
import { missingFeatures, testDatabase } from "./helpers";

interface TlsServer {
  url: string;
  caFile: string;
  certFile?: string;
  /** The server demands a client certificate. */
  requiresClientCert: boolean;
}

let server: TlsServer | undefined;
let why = "";
let child: ChildProcess | undefined;
let dir: string | undefined;

function ferretdbBinary(): string | undefined {
  const cache = process.env.NEXUS_CACHE ?? path.join(homedir(), ".cache", "nexus-db");
  const bin = path.join(cache, "ferretdb", process.env.FERRETDB_VERSION ?? "v1.24.2", "nexus-ferretdb");
  return existsSync(bin) ? bin : undefined;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once("connect", () => (s.destroy(), resolve(true)));
      s.once("error", () => resolve(false));
      s.connect(port, "127.0.0.1");
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`TLS test server did not listen on ${port}`);
}

beforeAll(async () => {
  if (process.env.MONGODB_TLS_URL && process.env.MONGODB_TLS_CA_FILE) {
    server = {
      url: process.env.MONGODB_TLS_URL,
      caFile: process.env.MONGODB_TLS_CA_FILE,
      certFile: process.env.MONGODB_TLS_CERT_FILE,
      requiresClientCert: !!process.env.MONGODB_TLS_CERT_FILE,
    };
    return;
  }
  const bin = ferretdbBinary();
  if (!bin) {
    why = "no TLS server: set MONGODB_TLS_URL and MONGODB_TLS_CA_FILE, or build FerretDB with scripts/bootstrap.sh";
    return;
  }
  dir = mkdtempSync(path.join(tmpdir(), "nexus-mongo-tls-"));
  writeFileSync(path.join(dir, "san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=nexus-test-ca", "-keyout", "ca.key", "-out", "ca.pem"], dir);
  for (const [name, cn] of [["server", "127.0.0.1"], ["client", "nexus-db"]]) {
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${cn}`, "-keyout", `${name}.key`, "-out", `${name}.csr`], dir);
    openssl(
      ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-out", `${name}.pem`, ...(name === "server" ? ["-extfile", "san.cnf"] : [])],
      dir,
    );
  }
  spawnSync("sh", ["-c", "cat client.pem client.key > client-bundle.pem"], { cwd: dir });
  const port = await freePort();
  child = spawn(
    bin,
    ["--listen", "", "--listen-tls", `127.0.0.1:${port}`, "--tls-cert", path.join(dir, "server.pem"), "--tls-key", path.join(dir, "server.key"), "--tls-ca", path.join(dir, "ca.pem"), "--data-dir", path.join(dir, "data")],
    { stdio: "ignore" },
  );
  await waitForPort(port, 30_000);
  server = { url: `mongodb://127.0.0.1:${port}/`, caFile: path.join(dir, "ca.pem"), certFile: path.join(dir, "client-bundle.pem"), requiresClientCert: true };
});

afterAll(() => {
  if (child?.pid) process.kill(child.pid, "SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("TLS", () => {
  it("applies over TLS with the CA file and the client certificate; the second apply has nothing to do", async (ctx) => {
    ctx.skip(!server, why);
    const tls = { enabled: true, caFile: server!.caFile, certificateKeyFile: server!.certFile };
    const client = await connectMongo(server!.url, tls);
    const db = testDatabase();
    try {
      const caps: Capabilities = await probeCapabilities(client.db(db));
      const opts = { client, database: db, collections: nexusCollections(), capabilities: caps, allowMissingFeatures: missingFeatures(caps) };
      const { plan } = await new MongoReconciler(opts).apply();
      expect(plan.actions).toContain("create index file_metadata.sha256_1 (unique)");
      const again = await new MongoReconciler(opts).plan();
      expect(again.steps).toEqual([]);
      expect((await client.db(db).listCollections().toArray()).length).toBe(7);
    } finally {
      await client.db(db).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  it("does not connect when the server's certificate is not trusted", async (ctx) => {
    ctx.skip(!server, why);
    await expect(connectMongo(server!.url, { enabled: true, certificateKeyFile: server!.certFile }, { serverSelectionTimeoutMS: 2000 })).rejects.toThrow(
      /cannot connect to MongoDB at mongodb:\/\/127\.0\.0\.1:\d+\/: .*(self[- ]signed|certificate)/i,
    );
  });

  it("does not connect without the client certificate the server demands", async (ctx) => {
    ctx.skip(!server?.requiresClientCert, server ? "the TLS server given does not demand a client certificate" : why);
    await expect(connectMongo(server!.url, { enabled: true, caFile: server!.caFile }, { serverSelectionTimeoutMS: 2000 })).rejects.toThrow(/cannot connect.*(certificate|socket|closed|reset|ECONNRESET)/i);
  });
});
