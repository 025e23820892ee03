// The mock runtime of every mock-runtime test (components, and the dynamic resources' registration): every registered resource recorded with its inputs (as the
// engine would receive them) and its options (protect, retainOnDelete, dependsOn… as the component
// passed them), fake outputs for the providers' computed properties, and one helper to await outputs.
//
// Call `installMocks` before importing any module that creates resources (the program, components):
//
//   const mocks = installMocks({ stack: "dev" });
//   const { DatabaseLayer } = await import("../../components/database-layer");
//   const layer = new DatabaseLayer("nexus", { config }, { transformations: [mocks.recordOptions] });
//   await mocks.settle();
//   expect(mocks.byName("nexus-postgres-container").inputs.ports).toEqual([...]);
import * as pulumi from "@pulumi/pulumi";

/** Inputs as the providers receive them: arbitrary data that the tests read and compare. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Inputs = Record<string, any>;

/** A resource as the mock engine saw it register. */
export interface RegisteredResource {
  /** Type token, e.g. `docker:index/container:Container`, `nexus:db:Postgres`. */
  type: string;
  name: string;
  /** Inputs as plain values (secrets unwrapped, resource references resolved). */
  inputs: Inputs;
  /** Custom resource (false for components). */
  custom: boolean;
  /** Every string in the inputs that is not inside a secret, with its path (what state would hold in plain text). */
  plainStrings: { path: string; value: string }[];
}

/** A resource as its component constructed it: the resource options it passed. */
export interface ConstructedResource {
  resource: pulumi.Resource;
  type: string;
  name: string;
  opts: pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
}

export interface MockRuntime {
  /** Every resource registered so far, in registration order. */
  readonly registered: RegisteredResource[];
  /** Every resource constructed under a component given `recordOptions`, in construction order. */
  readonly constructed: ConstructedResource[];
  /** Pass in `transformations` of the top-level component: children inherit it. */
  readonly recordOptions: pulumi.ResourceTransformation;
  /** Waits until every registration and output resolution in flight has finished. */
  settle(): Promise<void>;
  /** The registered resource of that name; throws listing the names when there is none. */
  byName(name: string): RegisteredResource;
  /** The options the resource of that name was constructed with. */
  optionsOf(name: string): ConstructedResource["opts"];
  /** Registered resources of a type token (exact, or ending with `:<suffix>`). */
  ofType(type: string): RegisteredResource[];
  /** The inputs of the resource of that name as registered, secrets still wrapped (as the state would hold them). */
  rawInputs(name: string): Record<string, unknown>;
  /** Forgets what was recorded (between programs in one file). */
  reset(): void;
}

export interface InstallMocksArgs {
  /** Default "nexus-db". */
  project?: string;
  /** Default "dev". */
  stack?: string;
  /** Stack config, full keys (`nexus-db:postgresAppPassword`) → string values. Default {}. */
  config?: Record<string, string>;
  /** Which of `config`'s keys are secrets. Default []. */
  secretKeys?: string[];
  /** Run as `pulumi preview` does (the SDK's dry-run flag). Default false (as `pulumi up`). */
  preview?: boolean;
  /** More fake outputs, per resource, over fakeOutputs' (e.g. a provider's computed figures). Default none. */
  outputs?: (type: string, name: string, inputs: Inputs) => Record<string, unknown> | undefined;
}

/** The wire format's secret marker (secret inputs reach the mocks still wrapped in it). */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

/** The fake computed outputs a provider would return, per type. Inputs are echoed back as well. */
export function fakeOutputs(type: string, name: string, inputs: Inputs): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword":
      // The random and tls providers return these as secrets.
      return { result: secretValue(`mockpw${name.replace(/[^A-Za-z0-9]/g, "")}`), bcryptHash: secretValue("$2a$10$mock") };
    case "tls:index/privateKey:PrivateKey":
      return { privateKeyPem: secretValue(`-----BEGIN PRIVATE KEY-----\n${name}\n-----END PRIVATE KEY-----\n`), publicKeyPem: `pub-${name}` };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\n${name}\n-----END CERTIFICATE-----\n` };
    case "tls:index/certRequest:CertRequest":
      return { certRequestPem: `csr-${name}` };
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:mock-${inputs.name}`, repoDigest: `${inputs.name}@sha256:mock` };
    case "docker:index/container:Container":
      return { networkDatas: [], exitCode: null };
  }
  if (type.endsWith(":PostgresSchema")) return { appliedVersions: [1, 2, 3], currentVersion: 3, driftAtLastUpdate: [] };
  if (type.endsWith(":PostgresGrants")) return { statements: 12 };
  if (type.endsWith(":PostgresSeedData")) return { loaded: ["seed.sql"] };
  if (type.endsWith(":PostgresRoles")) return { createdDatabase: true };
  if (type.endsWith(":RedisServerSettings")) return { notApplied: [] };
  return cloudFakeOutputs(type, name, inputs);
}

/** What AWS and Atlas would compute for a resource, per type (inputs are echoed as well). */
export function cloudFakeOutputs(type: string, _name: string, inputs: Inputs): Record<string, unknown> {
  switch (type) {
    case "aws:rds/instance:Instance":
      return { address: `${inputs.identifier}.c0ffee.us-east-1.rds.amazonaws.com`, port: 5432, arn: `arn:aws:rds:us-east-1:123456789012:db:${inputs.identifier}` };
    case "aws:elasticache/replicationGroup:ReplicationGroup":
      return {
        primaryEndpointAddress: inputs.clusterMode === "enabled" ? "" : `master.${inputs.replicationGroupId}.c0ffee.use1.cache.amazonaws.com`,
        configurationEndpointAddress: inputs.clusterMode === "enabled" ? `clustercfg.${inputs.replicationGroupId}.c0ffee.use1.cache.amazonaws.com` : "",
      };
    case "mongodbatlas:index/advancedCluster:AdvancedCluster":
      return { connectionStrings: { standardSrv: `mongodb+srv://${inputs.name}.ab1cd.mongodb.net`, standard: "" }, clusterId: "c1" };
    case "mongodbatlas:index/project:Project":
      return { orgId: inputs.orgId };
    case "mongodbatlas:index/cloudBackupSnapshotRestoreJob:CloudBackupSnapshotRestoreJob":
      return { snapshotRestoreJobId: `restore-job-of-${inputs.clusterName}` };
  }
  return {};
}

/** Inputs with every nested secret replaced by its value. */
export function unwrapSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_VALUE) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

/** String leaves outside secrets, with their paths. */
export function plainStrings(v: unknown, path = ""): { path: string; value: string }[] {
  if (typeof v === "string") return [{ path, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => plainStrings(x, `${path}[${i}]`));
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_VALUE) return [];
    return Object.entries(o).flatMap(([k, x]) => plainStrings(x, path ? `${path}.${k}` : k));
  }
  return [];
}

/** A value the mock engine returns as a secret output (as the real providers mark these). */
function secretValue(value: unknown): Record<string, unknown> {
  return { [SECRET_SIG]: SECRET_VALUE, value };
}

export function installMocks(args: InstallMocksArgs = {}): MockRuntime {
  const registered: RegisteredResource[] = [];
  const constructed: ConstructedResource[] = [];
  const raw = new Map<string, Record<string, unknown>>();
  pulumi.runtime.setAllConfig(args.config ?? {}, args.secretKeys ?? []);
  pulumi.runtime.setMocks(
    {
      newResource(a: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        raw.set(a.name, a.inputs);
        registered.push({ type: a.type, name: a.name, inputs: unwrapSecrets(a.inputs) as Inputs, custom: a.custom ?? true, plainStrings: plainStrings(a.inputs) });
        return { id: `${a.name}-id`, state: { ...a.inputs, ...fakeOutputs(a.type, a.name, a.inputs), ...args.outputs?.(a.type, a.name, a.inputs) } };
      },
      call(a: pulumi.runtime.MockCallArgs) {
        return a.inputs;
      },
    },
    args.project ?? "nexus-db",
    args.stack ?? "dev",
    args.preview ?? false,
  );
  const names = () => registered.map((r) => r.name).join(", ");
  return {
    registered,
    constructed,
    recordOptions: ({ resource, type, name, props, opts }) => {
      constructed.push({ resource, type, name, opts: { ...opts } });
      return { props, opts };
    },
    async settle() {
      // waitForRPCs is the SDK's own wait at the end of a program: it loops until nothing is in flight.
      await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
    },
    byName(name) {
      const r = registered.find((x) => x.name === name);
      if (!r) throw new Error(`no resource named ${name}; registered: ${names()}`);
      return r;
    },
    optionsOf(name) {
      const r = constructed.find((x) => x.name === name);
      if (!r) throw new Error(`no resource named ${name} was constructed under a recording component`);
      return r.opts;
    },
    ofType(type) {
      return registered.filter((r) => r.type === type || r.type.endsWith(`:${type}`));
    },
    rawInputs(name) {
      const r = raw.get(name);
      if (!r) throw new Error(`no resource named ${name}; registered: ${names()}`);
      return r;
    },
    reset() {
      registered.length = 0;
      constructed.length = 0;
      raw.clear();
    },
  };
}

/** The value of an output (the only way tests read one: never assert inside an apply). */
export function valueOf<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise<T>((resolve) => {
    pulumi.output(o).apply((v) => {
      resolve(v as T);
      return v;
    });
  });
}

/** Whether an output is marked secret. */
export function isSecret(o: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(o);
}
