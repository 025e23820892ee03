// The docker backend's spelling of what Docker reads back, and the start script that gives the
// uploaded files their owner and mode (pure functions; the containers themselves run in tests/docker).
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { dockerCpus, startCommand, UPLOAD_DIR } from "../../components/docker-store";
import { devToolImage } from "../../components/dev-tools";
import { parseStackConfig } from "../../config/schema";

describe("dockerCpus: the spelling the provider reads back (else every up replaces the container)", () => {
  it.each([
    [1, "1.0"],
    [2, "2.0"],
    [0.5, "0.5"],
    [1.25, "1.25"],
    [0.1, "0.1"],
  ])("%s → %s", (n, s) => expect(dockerCpus(n)).toBe(s));
});

describe("startCommand", () => {
  it("installs each file, then hands the image's command to its entrypoint", () => {
    const [sh, c, script, name, ...rest] = startCommand([{ path: "/etc/a b/k'ey", content: "x", owner: "999:998", mode: "0600" }], ["redis-server", "/c.conf"]);
    expect([sh, c, name, rest]).toEqual(["sh", "-c", "nexus-db-start", ["redis-server", "/c.conf"]]);
    expect(script.split("\n")).toEqual([
      "set -eu",
      `chmod -R go-rwx '${UPLOAD_DIR}'`,
      `install -D -o 999 -g 998 -m 0600 '${UPLOAD_DIR}/etc/a b/k'\\''ey' '/etc/a b/k'\\''ey'`,
      'exec docker-entrypoint.sh "$@"',
    ]);
  });

  it("runs in a POSIX shell: files land with their mode, the staging copy becomes root-only, the command gets its arguments", () => {
    const root = mkdtempSync(path.join(tmpdir(), "nexus-start-"));
    try {
      const staged = path.join(root, "stage");
      mkdirSync(path.join(staged, root, "out"), { recursive: true });
      writeFileSync(path.join(staged, root, "out", "key"), "secret\n", { mode: 0o644 });
      const uid = String(process.getuid!());
      const [, , script, name, ...command] = startCommand([{ path: path.join(root, "out", "key"), content: "", owner: `${uid}:${uid}`, mode: "0600" }], ["arg one", "two"]);
      const bin = path.join(root, "bin");
      mkdirSync(bin);
      // A stand-in entrypoint that records its arguments.
      writeFileSync(path.join(bin, "docker-entrypoint.sh"), `#!/bin/sh\nprintf '%s|' "$@" > ${root}/args\n`, { mode: 0o755 });
      execFileSync("sh", ["-c", script.replaceAll(`'${UPLOAD_DIR}`, `'${staged}`), name, ...command], { env: { PATH: `${bin}:${process.env.PATH}` } });
      expect(readFileSync(path.join(root, "out", "key"), "utf8")).toBe("secret\n");
      expect(statSync(path.join(root, "out", "key")).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(staged, root, "out", "key")).mode & 0o077).toBe(0);
      expect(readFileSync(path.join(root, "args"), "utf8")).toBe("arg one|two|");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("the admin tools' images", () => {
  it("defaults, a stack's own image, or false to leave a tool out", () => {
    const c = parseStackConfig({ environment: "dev", docker: { devToolImages: { pgAdmin: false, redisCommander: "nexus-db/redis-commander:abc" } } }, "dev");
    expect(devToolImage(c, "pgAdmin")).toBe(false);
    expect(devToolImage(c, "redisCommander")).toBe("nexus-db/redis-commander:abc");
    expect(devToolImage(c, "mongoExpress")).toBe("mongo-express:1.0.2-20-alpine3.19");
  });
});
