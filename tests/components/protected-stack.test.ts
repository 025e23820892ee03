// Protected and ephemeral stacks under the mock runtime: `protect` on every data-bearing resource of
// a protected stack, no seeds, no admin tools; an ephemeral dev stack lets destroy take its volumes.
import { beforeAll, describe, expect, it } from "vitest";
import type { DatabaseLayer } from "../../components/database-layer";
import { bundledFiles } from "../helpers/file-bundles";
import { installMocks, type Inputs, type MockRuntime } from "../helpers/mocks";

const mocks: MockRuntime = installMocks({ stack: "prod" });

type Recorded = { names: string[]; inputs: (n: string) => Inputs; options: (n: string) => MockRuntime["constructed"][number]["opts"] };
let prod: Recorded;
let eph: Recorded;
let prodLayer: DatabaseLayer;

/** Builds one DatabaseLayer and keeps what it registered. */
async function build(name: string, values: Record<string, unknown>, stack: string): Promise<Recorded & { layer: DatabaseLayer }> {
  const { parseStackConfig } = await import("../../config/schema");
  const { DatabaseLayer } = await import("../../components/database-layer");
  mocks.reset();
  const layer = new DatabaseLayer(name, { config: parseStackConfig(values, stack) }, { transformations: [mocks.recordOptions] });
  await mocks.settle();
  const registered = [...mocks.registered];
  const constructed = [...mocks.constructed];
  return {
    layer,
    names: registered.map((r) => r.name),
    inputs: (n) => registered.find((r) => r.name === n)!.inputs,
    options: (n) => constructed.find((c) => c.name === n)!.opts,
  };
}

beforeAll(async () => {
  const docker = { backend: "docker" };
  const p = await build("prod", { environment: "prod", postgres: docker, mongo: docker, redis: docker }, "prod");
  prod = p;
  prodLayer = p.layer;
  eph = await build("eph", { environment: "dev", ephemeral: true, docker: { devTools: false, bindAddress: "127.0.0.1" } }, "scratch");
});

describe("a protected stack (prod on docker)", () => {
  it("protects the volumes, containers, roles, schema and collections", () => {
    for (const n of ["postgres-data", "mongo-data", "redis-data", "postgres-container", "mongo-container", "redis-container", "postgres-roles", "postgres-schema", "mongo-schema"]) {
      expect(prod.options(`prod-${n}`).protect, n).toBe(true);
    }
    for (const s of ["postgres", "mongo", "redis"]) expect(prod.options(`prod-${s}-data`).retainOnDelete, s).toBe(true);
  });

  it("loads no seed data and starts no admin tool", () => {
    expect(prod.names).not.toContain("prod-postgres-seed");
    expect(prod.names.filter((n) => n.includes("devtools"))).toEqual([]);
    expect(prodLayer.devTools).toBeUndefined();
    expect(prodLayer.postgres.ready).toEqual([prodLayer.postgres.grants]);
  });

  it("marks the migrations and the Mongo reconcile protected, never dropping on delete", () => {
    expect(prod.inputs("prod-postgres-schema").settings).toMatchObject({ protected: true, dropOnDelete: false });
    expect(prod.inputs("prod-postgres-roles").dropOnDelete).toBe(false);
    expect(prod.inputs("prod-mongo-schema")).toMatchObject({ protected: true, dropCollectionsOnDelete: false });
  });

  it("uses the production defaults: containers named after the stack, on loopback, without the dev default user in Redis", () => {
    expect(prod.inputs("prod-postgres-container").ports).toEqual([{ internal: 5432, external: 5432, ip: "127.0.0.1", protocol: "tcp" }]);
    const acl = bundledFiles(prod.inputs("prod-redis-container").uploads)["/usr/local/etc/redis/users.acl"].content;
    expect(acl.split("\n")[0]).toBe("user default off resetpass resetkeys resetchannels -@all");
  });
});

describe("an ephemeral dev stack", () => {
  it("lets destroy remove the volumes and drop the roles and database", () => {
    for (const s of ["postgres", "mongo", "redis"]) {
      expect(eph.options(`eph-${s}-data`)).toMatchObject({ retainOnDelete: false, protect: false });
      expect(eph.inputs(`eph-${s}-data`)).toEqual({ name: `scratch-${s}-data`, labels: [{ label: "nexus-db.ephemeral", value: "true" }] });
    }
    expect(eph.inputs("eph-postgres-roles").dropOnDelete).toBe(true);
  });

  it("with devTools off, no admin tool", () => {
    expect(eph.names.filter((n) => n.includes("devtools"))).toEqual([]);
    expect(eph.inputs("eph-network").name).toBe("scratch-nexus-db");
  });
});
