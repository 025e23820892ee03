// Fails the run early, with one clear line, when a server the suites need is not answering.
import { Socket } from "node:net";
import { DATABASE_URL, MONGODB_URL, REDIS_URL } from "./env";

function reachable(url: string, defaultPort: number): Promise<string | undefined> {
  const u = new URL(url.replace(/^mongodb\+srv:/, "mongodb:"));
  const host = u.hostname || "127.0.0.1";
  const port = Number(u.port || defaultPort);
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(5000);
    s.once("connect", () => { s.destroy(); resolve(undefined); });
    s.once("timeout", () => { s.destroy(); resolve(`${host}:${port} timed out`); });
    s.once("error", (e) => resolve(`${host}:${port}: ${e.message}`));
    s.connect(port, host);
  });
}

export default async function setup(): Promise<void> {
  const problems = (
    await Promise.all([
      reachable(DATABASE_URL, 5432).then((p) => p && `PostgreSQL (DATABASE_URL) ${p}`),
      reachable(REDIS_URL, 6379).then((p) => p && `Redis (REDIS_URL) ${p}`),
      reachable(MONGODB_URL, 27017).then((p) => p && `MongoDB (MONGODB_URL) ${p}`),
    ])
  ).filter(Boolean);
  if (problems.length > 0) {
    throw new Error(`test servers not reachable — run \`bash scripts/services.sh\` first:\n  ${problems.join("\n  ")}`);
  }
}
