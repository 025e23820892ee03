// Fixtures of the cloud stacks' tests (a prod config with every store in the cloud, CA bundles),
// over the one mock runtime of tests/helpers/mocks.ts (which computes what AWS and Atlas would:
// RDS and ElastiCache endpoints, the Atlas SRV string, and keeps each resource's raw inputs).
//
//   const mocks = installCloudMocks({ stack: "prod", config: { "nexus-db:postgresAppPassword": "…" } });
//   const { DatabaseLayer } = await import("../../components/database-layer");
import { installMocks, type InstallMocksArgs, type MockRuntime } from "./mocks";

export { cloudFakeOutputs } from "./mocks";

/** The wire format's secret marker, as the mock engine receives a secret input. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** The mock runtime of tests/helpers/mocks.ts: it computes the cloud providers' outputs and keeps raw inputs too. */
export type CloudMockRuntime = MockRuntime;

export function installCloudMocks(args: InstallMocksArgs = {}): CloudMockRuntime {
  return installMocks(args);
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
