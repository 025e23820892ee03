// The mock runtime of tests/helpers/mocks.ts, plus what the cloud providers compute (RDS and
// ElastiCache endpoints, the Atlas SRV string) and each resource's inputs as registered, secrets
// still wrapped, so a test can check that a password reached a provider as a secret.
//
//   const mocks = installCloudMocks({ stack: "prod", config: { "nexus-db:postgresAppPassword": "…" } });
//   const { DatabaseLayer } = await import("../../components/database-layer");
import * as pulumi from "@pulumi/pulumi";
import { fakeOutputs, installMocks, unwrapSecrets, type InstallMocksArgs, type MockRuntime, type RegisteredResource } from "./mocks";

/** The wire format's secret marker, as the mock engine receives a secret input. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** What AWS and Atlas would compute for a resource, per type (inputs are echoed as well). */
export function cloudFakeOutputs(type: string, _name: string, inputs: Record<string, unknown>): Record<string, unknown> {
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
  }
  return {};
}

export interface CloudMockRuntime extends MockRuntime {
  /** The inputs of the resource of that name as registered, secrets still wrapped. */
  rawInputs(name: string): Record<string, unknown>;
}

export function installCloudMocks(args: InstallMocksArgs = {}): CloudMockRuntime {
  const mocks = installMocks(args);
  const raw = new Map<string, Record<string, unknown>>();
  // Replaces the monitor installMocks set, recording into the same list.
  pulumi.runtime.setMocks(
    {
      newResource(a: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
        raw.set(a.name, a.inputs);
        // The fields mocks.ts records today; a field it adds later stays absent here until added.
        mocks.registered.push({ type: a.type, name: a.name, inputs: unwrapSecrets(a.inputs) as RegisteredResource["inputs"], custom: a.custom ?? true } as RegisteredResource);
        return { id: `${a.name}-id`, state: { ...a.inputs, ...fakeOutputs(a.type, a.name, a.inputs), ...cloudFakeOutputs(a.type, a.name, a.inputs) } };
      },
      call(a: pulumi.runtime.MockCallArgs) {
        return a.inputs;
      },
    },
    args.project ?? "nexus-db",
    args.stack ?? "dev",
    false,
  );
  return {
    ...mocks,
    rawInputs(name) {
      const r = raw.get(name);
      if (!r) throw new Error(`no resource named ${name}`);
      return r;
    },
  };
}

/** Whether a raw input value is a secret on the wire. */
export function isWireSecret(v: unknown): boolean {
  return typeof v === "object" && v !== null && SECRET_SIG in (v as Record<string, unknown>);
}

export const RDS_CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIrdsbundle\n-----END CERTIFICATE-----\n";
export const X509_CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIcustomerca\n-----END CERTIFICATE-----\n";

/** Stack config values as tests edit them: nested plain objects, changed at any depth before parsing. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the schema checks them; tests build invalid ones on purpose
export type EditableValues = Record<string, any>;

/** The `nexus-db:` values of a protected prod stack with every store on its cloud backend (Pulumi.prod.yaml's shape). */
export function prodCloudValues(): EditableValues {
  const network = {
    vpcId: "vpc-0a1b2c3d4e5f60718",
    subnetIds: ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
    allowedSecurityGroupIds: ["sg-0a1b2c3d4e5f60099"],
  };
  return {
    environment: "prod",
    postgres: { backend: "cloud", cloud: { ...network, caBundlePem: RDS_CA_PEM, readReplicas: 1, kmsKeyId: "arn:aws:kms:us-east-1:123456789012:key/rds" } },
    mongo: {
      backend: "cloud",
      settings: { tls: { enabled: true } },
      cloud: { orgId: "0123456789abcdef01234567", accessList: [{ cidr: "10.20.0.0/16", comment: "backend VPC" }] },
    },
    redis: { backend: "cloud", warmup: { enabled: false }, cloud: network },
  };
}

/** Secret config of the tests (full keys), each 16+ characters as outside dev. */
export const CLOUD_SECRETS: Record<string, string> = {
  "nexus-db:postgresAppPassword": "supplied-app-password-0001",
};
