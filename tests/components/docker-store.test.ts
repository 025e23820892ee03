// The docker backend's spelling of what Docker reads back, and the start script that gives the
// uploaded files their owner and mode (pure functions; the containers themselves run in tests/docker).
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as pulumi from "@pulumi/pulumi";
import { BUNDLE_FUNCTION, dockerCpus, fileBundles, shellQuote, startCommand, UPLOAD_DIR } from "../../components/docker-store";
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

describe("startCommand and fileBundles", () => {
  const files = [
    { path: "/etc/a b/k'ey", content: "line one\nit's $HOME `x` \\n %s\n", owner: "999:998", mode: "0600" },
    { path: "/etc/conf/app.conf", content: "no newline at the end" },
  ];

  it("runs the bundles (public first, owner-only second), then hands the image's command to its entrypoint", () => {
    const [sh, c, script, name, ...rest] = startCommand(files, ["redis-server", "/c.conf"]);
    expect([sh, c, name, rest]).toEqual(["sh", "-c", "nexus-db-start", ["redis-server", "/c.conf"]]);
    expect(script.split("\n")).toEqual([
      "set -eu",
      `chmod -R go-rwx '${UPLOAD_DIR}'`,
      "umask 077",
      BUNDLE_FUNCTION,
      "R=",
      `. '${UPLOAD_DIR}/files.sh'`,
      `. '${UPLOAD_DIR}/owner-only-files.sh'`,
      "umask 022",
      'exec docker-entrypoint.sh "$@"',
    ]);
    // A store without owner-only files has one bundle.
    expect(startCommand([files[1]], ["x"])[2]).not.toContain("owner-only-files.sh");
  });

  it("owner-only files travel in a bundle of their own, which is secret", async () => {
    const secret = pulumi.secret(files[0].content);
    const bundles = fileBundles([{ ...files[0], content: secret }, files[1]]);
    expect(bundles.map((b) => b.file)).toEqual([`${UPLOAD_DIR}/files.sh`, `${UPLOAD_DIR}/owner-only-files.sh`]);
    expect(await pulumi.isSecret(bundles[0].content)).toBe(false);
    expect(await pulumi.isSecret(bundles[1].content)).toBe(true);
  });

  it("runs in a POSIX shell: files land byte for byte with their mode, the staging copy becomes root-only, the command gets its arguments", async () => {
    const root = mkdtempSync(path.join(tmpdir(), "nexus-start-"));
    try {
      const uid = String(process.getuid!());
      const mine = files.map((f) => ({ ...f, owner: `${uid}:${uid}` }));
      const staged = path.join(root, "stage");
      mkdirSync(staged);
      for (const b of fileBundles(mine)) {
        const text = await new Promise<string>((resolve) => b.content.apply(resolve));
        writeFileSync(path.join(staged, path.basename(b.file)), text, { mode: 0o644 });
      }
      const [, , script, name, ...command] = startCommand(mine, ["arg one", "two"]);
      const bin = path.join(root, "bin");
      mkdirSync(bin);
      // A stand-in entrypoint that records its arguments and its umask.
      writeFileSync(path.join(bin, "docker-entrypoint.sh"), `#!/bin/sh\nprintf '%s|' "$@" > ${root}/args\numask > ${root}/umask\n`, { mode: 0o755 });
      const local = script.replaceAll(`'${UPLOAD_DIR}`, `'${staged}`).replace(/^R=$/m, `R=${shellQuote(root)}`);
      execFileSync("sh", ["-c", local, name, ...command], { env: { PATH: `${bin}:${process.env.PATH}` } });
      expect(readFileSync(path.join(root, "etc/a b/k'ey"), "utf8")).toBe(files[0].content);
      expect(statSync(path.join(root, "etc/a b/k'ey")).mode & 0o777).toBe(0o600);
      expect(readFileSync(path.join(root, "etc/conf/app.conf"), "utf8")).toBe("no newline at the end");
      expect(statSync(path.join(root, "etc/conf/app.conf")).mode & 0o777).toBe(0o644);
      // Folders made on the way are traversable (the server's user reads its files through them).
      expect(statSync(path.join(root, "etc/a b")).mode & 0o777).toBe(0o755);
      expect(statSync(path.join(staged, "owner-only-files.sh")).mode & 0o077).toBe(0);
      expect(readFileSync(path.join(root, "args"), "utf8")).toBe("arg one|two|");
      expect(readFileSync(path.join(root, "umask"), "utf8").trim()).toBe("0022");
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
