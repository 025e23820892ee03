// The set-up scripts' own logic, without building anything: scripts/go-align.cjs (which
// dependency versions the CLI and the providers are built against), apt_install in scripts/env.sh
// (installs side by side, one waiting for another's package-list update), and the references
// scripts/build-plugins.sh aligns to.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..", "..");
const dir = mkdtempSync(path.join(tmpdir(), "nexus-setup-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// bootstrap puts Go's own folder on PATH when `go` is not there already; so do the tests.
const PATH = [process.env.PATH, existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin" : ""].filter(Boolean).join(path.delimiter);

function goMod(requires: Record<string, string>, replaces: Record<string, string> = {}): string {
  const req = Object.entries(requires).map(([p, v]) => `\t${p} ${v}`);
  const rep = Object.entries(replaces).map(([p, to]) => `replace ${p} => ${to}`);
  return `module example.com/m\n\ngo 1.25\n\nrequire (\n${req.join("\n")}\n)\n\n${rep.join("\n")}\n`;
}

function requirements(file: string): Record<string, string> {
  const r = spawnSync("go", ["mod", "edit", "-json", file], { encoding: "utf8", env: { ...process.env, PATH } });
  if (r.status !== 0) throw new Error(r.stderr);
  const json = JSON.parse(r.stdout) as { Require?: { Path: string; Version: string }[] };
  return Object.fromEntries((json.Require ?? []).map((x) => [x.Path, x.Version]));
}

describe("scripts/go-align.cjs", () => {
  it("raises to the newest version among the references, never lowers, never crosses a major version, leaves replaced and kept modules alone", () => {
    const mod = path.join(dir, "align");
    mkdirSync(mod, { recursive: true });
    writeFileSync(
      path.join(mod, "go.mod"),
      goMod(
        {
          "a.example/minor": "v1.2.0",
          "b.example/major": "v0.0.5",
          "c.example/zero": "v0.5.0",
          "d.example/kept": "v1.0.0",
          "e.example/replaced": "v1.0.0",
          "f.example/newer-here": "v1.5.0",
          "g.example/pseudo": "v0.0.0-20240101000000-abcdefabcdef",
          "h.example/unlisted": "v1.0.0",
        },
        { "e.example/replaced": "../elsewhere" },
      ),
    );
    const refA = path.join(dir, "a.go.mod");
    const refB = path.join(dir, "b.go.mod");
    writeFileSync(
      refA,
      goMod({
        "a.example/minor": "v1.3.0",
        "b.example/major": "v1.1.3",
        "c.example/zero": "v0.7.0",
        "d.example/kept": "v1.4.0",
        "e.example/replaced": "v1.9.0",
        "f.example/newer-here": "v1.4.0",
        "g.example/pseudo": "v0.0.0-20250101000000-abcdefabcdef",
      }),
    );
    writeFileSync(refB, goMod({ "a.example/minor": "v1.2.5", "b.example/major": "v0.0.7", "c.example/zero": "v0.6.1" }));

    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/go-align.cjs"), "--keep", "d.example/kept,x.example/other", refA, refB], {
      cwd: mod,
      encoding: "utf8",
      env: { ...process.env, PATH },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split("\n").sort()).toEqual([
      "a.example/minor v1.2.0 -> v1.3.0",
      "b.example/major v0.0.5 -> v0.0.7",
      "c.example/zero v0.5.0 -> v0.7.0",
      "g.example/pseudo v0.0.0-20240101000000-abcdefabcdef -> v0.0.0-20250101000000-abcdefabcdef",
    ]);
    expect(requirements(path.join(mod, "go.mod"))).toEqual({
      "a.example/minor": "v1.3.0", // the newest of both references
      "b.example/major": "v0.0.7", // not v1.1.3: another major version is another API
      "c.example/zero": "v0.7.0",
      "d.example/kept": "v1.0.0", // --keep
      "e.example/replaced": "v1.0.0", // replaced: its version is not what builds
      "f.example/newer-here": "v1.5.0", // never lowered
      "g.example/pseudo": "v0.0.0-20250101000000-abcdefabcdef",
      "h.example/unlisted": "v1.0.0",
    });

    // Aligned already: nothing to say, nothing changed.
    const again = spawnSync(process.execPath, [path.join(ROOT, "scripts/go-align.cjs"), "--keep", "d.example/kept", refA, refB], { cwd: mod, encoding: "utf8", env: { ...process.env, PATH } });
    expect(again.status).toBe(0);
    expect(again.stdout).toBe("");
  });

  it("refuses to run without a reference", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "scripts/go-align.cjs"), "--keep", "a.example/x"], { cwd: dir, encoding: "utf8", env: { ...process.env, PATH } });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/usage: node scripts\/go-align\.cjs/);
  });
});

describe("apt_install (scripts/env.sh)", () => {
  // A stand-in apt-get on PATH: `install` fails until the package lists exist; the first `update`s
  // find the lists lock held (another apt-get updating), as on a fresh machine where the images,
  // the test servers and bootstrap install side by side.
  function fakeApt(name: string, updateFailures: { times: number; message: string }): { run: () => ReturnType<typeof spawnSync>; calls: () => string[] } {
    const state = path.join(dir, name);
    const bin = path.join(state, "bin");
    mkdirSync(bin, { recursive: true });
    const sudo = process.getuid?.() === 0 ? "" : "sudo() { shift; \"$@\"; }; export -f sudo; ";
    writeFileSync(
      path.join(bin, "apt-get"),
      `#!/usr/bin/env bash
state=${JSON.stringify(state)}
echo "$*" >> "$state/calls"
case " $* " in
  *" update "*)
    n=$(( $(cat "$state/updates" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$state/updates"
    if [ "$n" -le ${updateFailures.times} ]; then echo ${JSON.stringify(updateFailures.message)} >&2; exit 100; fi
    touch "$state/lists"; exit 0 ;;
  *" install "*)
    [ -e "$state/lists" ] && exit 0
    echo "E: Unable to locate package" >&2; exit 100 ;;
esac
exit 1
`,
    );
    chmodSync(path.join(bin, "apt-get"), 0o755);
    return {
      run: () =>
        spawnSync("bash", ["-c", `${sudo}. scripts/env.sh && apt_install pkg-one pkg-two`], {
          cwd: ROOT,
          encoding: "utf8",
          env: { ...process.env, PATH: `${bin}${path.delimiter}${PATH}` },
          timeout: 60_000,
        }),
      calls: () => readFileSync(path.join(state, "calls"), "utf8").trim().split("\n"),
    };
  }

  it("updates the package lists when a package is missing, waiting while another apt-get holds their lock", () => {
    const apt = fakeApt("lock", { times: 2, message: "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" });
    const r = apt.run();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const calls = apt.calls();
    expect(calls.map((c) => (c.includes(" install ") ? "install" : c.includes(" update") ? "update" : c))).toEqual(["install", "update", "update", "update", "install"]);
    expect(calls[0]).toMatch(/-o DPkg::Lock::Timeout=900 .*install --no-install-recommends pkg-one pkg-two$/);
  });

  it("stops at an update that fails for another reason, and shows its error", () => {
    const apt = fakeApt("offline", { times: 99, message: "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'" });
    const r = apt.run();
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Temporary failure resolving");
    expect(apt.calls().filter((c) => c.includes("update"))).toHaveLength(1);
  });
});

describe("scripts/build-plugins.sh references", () => {
  const src = process.env.NEXUS_TOOLCHAIN_SRC ?? path.join(ROOT, "..", "shared", "toolchain-src");
  it.skipIf(!existsSync(src))("prints the go.mod of each provider built from the sources (skipped without the source folder: NEXUS_TOOLCHAIN_SRC)", () => {
    const r = spawnSync("bash", ["scripts/build-plugins.sh", "references"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH } });
    expect(r.status).toBe(0);
    const files = r.stdout.trim().split("\n");
    expect(files.map((f) => path.basename(f))).toEqual(["random.go.mod", "tls.go.mod", "postgresql.go.mod", "docker.go.mod"]);
    for (const f of files) expect(readFileSync(f, "utf8")).toMatch(new RegExp(`^module github\\.com/pulumi/pulumi-${path.basename(f, ".go.mod")}/provider`, "m"));
  });
});

describe("scripts/build-plugins.sh tune", () => {
  const src = process.env.NEXUS_TOOLCHAIN_SRC ?? path.join(ROOT, "..", "shared", "toolchain-src");
  const upstream = path.join(src, "upstream-terraform-provider-docker.tar.gz");
  const tune = (name: string, tree: string) => spawnSync("bash", ["scripts/build-plugins.sh", "tune", name, tree], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH } });
  it.skipIf(!existsSync(upstream))("takes the docker provider's fixed waits out of its upstream, and stops at an upstream they no longer fit (skipped without the source folder: NEXUS_TOOLCHAIN_SRC)", () => {
    const tree = path.join(dir, "docker-upstream");
    mkdirSync(tree);
    expect(spawnSync("tar", ["-xzf", upstream, "-C", tree, "--strip-components=1"]).status).toBe(0);
    const file = (f: string) => readFileSync(path.join(tree, "internal/provider", f), "utf8");
    expect(file("resource_docker_network_funcs.go")).toMatch(/networkReadRefreshDelay\s*=\s*2 \* time\.Second/);

    const r = tune("docker", tree);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const net = file("resource_docker_network_funcs.go");
    const vol = file("resource_docker_volume.go");
    for (const c of ["networkReadRefreshDelay", "networkRemoveRefreshDelay"]) expect(net).toMatch(new RegExp(`${c}\\s*=\\s*0 \\* time\\.Second\\n`));
    for (const c of ["networkReadRefreshWaitBeforeRefreshes", "networkRemoveRefreshWaitBeforeRefreshes"]) expect(net).toMatch(new RegExp(`${c}\\s*=\\s*250 \\* time\\.Millisecond\\n`));
    expect(vol).toMatch(/volumeReadRefreshDelay\s*=\s*0 \* time\.Second\n/);
    expect(vol).toMatch(/volumeReadRefreshWaitBeforeRefreshes\s*=\s*250 \* time\.Millisecond\n/);
    // Nothing else moved: the tuned tree differs from a fresh copy of the upstream in those six lines only.
    const fresh = path.join(dir, "docker-upstream-fresh");
    mkdirSync(fresh);
    expect(spawnSync("tar", ["-xzf", upstream, "-C", fresh, "--strip-components=1"]).status).toBe(0);
    const d = spawnSync("diff", ["-r", fresh, tree], { encoding: "utf8" });
    expect(d.stdout.split("\n").filter((l) => l.startsWith("> "))).toHaveLength(6);

    // An upstream the tunings no longer fit (here: tuned already) stops the build, naming the file.
    const again = tune("docker", tree);
    expect(again.status).not.toBe(0);
    expect(again.stderr).toContain("changes nothing in internal/provider/resource_docker_network_funcs.go");
  });
});
