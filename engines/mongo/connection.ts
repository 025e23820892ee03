// Opening a client for the reconciler: URL plus the stack's TLS settings.
import { MongoClient, type MongoClientOptions } from "mongodb";
import type { MongoSettings } from "./settings";
import { redactUrl } from "../shared/redact";

/** The stack's TLS settings, plus a CA given as PEM text (a stack's generated CA has no file). */
export type MongoTlsSettings = MongoSettings["tls"] & { caPem?: string };

/** Driver options for the stack's TLS settings (the URL's own `tls=` options still apply). */
export function clientOptions(tls?: Partial<MongoTlsSettings>, extra: MongoClientOptions = {}): MongoClientOptions {
  const o: MongoClientOptions = { appName: "nexus-db", serverSelectionTimeoutMS: 10_000, ...extra };
  if (tls?.enabled) {
    o.tls = true;
    if (tls.caFile) o.tlsCAFile = tls.caFile;
    else if (tls.caPem) o.ca = tls.caPem;
    if (tls.certificateKeyFile) o.tlsCertificateKeyFile = tls.certificateKeyFile;
    if (tls.allowInvalidHostnames) o.tlsAllowInvalidHostnames = true;
  }
  return o;
}

/** The database named in the URL's path, if any (`mongodb://h/nexus_security` → "nexus_security"). */
export function databaseFromUrl(url: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/.exec(url);
  return m ? decodeURIComponent(m[1]) : undefined;
}

/** Connects and checks the server answers; the caller closes the client. */
export async function connectMongo(url: string, tls?: Partial<MongoTlsSettings>, extra?: MongoClientOptions): Promise<MongoClient> {
  const client = new MongoClient(url, clientOptions(tls, extra));
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.close().catch(() => undefined);
    throw new Error(`cannot connect to MongoDB at ${redactUrl(url)}: ${(err as Error).message}`);
  }
}

export { redactUrl };
