// One CA per stack and a server certificate per store, with @pulumi/tls. A stack may bring its own
// CA (certificate in config, key as a secret); the server certificates are then signed with it.
import * as pulumi from "@pulumi/pulumi";
import { sdk } from "./sdk";

export const STORES = ["postgres", "mongo", "redis"] as const;
export type Store = (typeof STORES)[number];

/** The names a store's certificate must carry: the container name, localhost, the loopback addresses. */
export function serverNames(store: Store, stack: string, extraDnsNames: string[] = []): { dnsNames: string[]; ipAddresses: string[] } {
  return {
    dnsNames: [...new Set([`${stack}-${store}`, store, "localhost", ...extraDnsNames])],
    ipAddresses: ["127.0.0.1", "::1"],
  };
}

export interface ServerCertificate {
  certPem: pulumi.Output<string>;
  /** Secret. */
  keyPem: pulumi.Output<string>;
}

export interface CertificatesArgs {
  /** The stack's name, in subjects and DNS names. Required. */
  stack: string;
  /** Subject organization. Default "Nexus-Security". */
  organization?: string;
  /** Validity of generated certificates, in hours. Default 8760. */
  validityHours?: number;
  /** A CA of the stack's own: its certificate and (secret) key. Default: a CA is generated. */
  providedCa?: { certPem: pulumi.Input<string>; keyPem: pulumi.Input<string> };
  /** DNS names every server certificate also carries. Default []. */
  extraDnsNames?: string[];
}

export class Certificates extends pulumi.ComponentResource {
  /** The CA certificate clients verify the stores with. */
  readonly caCertPem: pulumi.Output<string>;
  readonly servers: Record<Store, ServerCertificate>;

  constructor(name: string, args: CertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("nexus:db:Certificates", name, {}, opts);
    const organization = args.organization ?? "Nexus-Security";
    const validityPeriodHours = args.validityHours ?? 8760;

    let caCertPem: pulumi.Output<string>;
    let caKeyPem: pulumi.Output<string>;
    if (args.providedCa) {
      caCertPem = pulumi.output(args.providedCa.certPem);
      caKeyPem = pulumi.secret(args.providedCa.keyPem);
    } else {
      const caKey = new sdk.tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const ca = new sdk.tls.SelfSignedCert(
        `${name}-ca`,
        {
          privateKeyPem: caKey.privateKeyPem,
          isCaCertificate: true,
          validityPeriodHours: validityPeriodHours * 5,
          subject: { commonName: `${args.stack} nexus-db CA`, organization },
          allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        },
        { parent: this },
      );
      caCertPem = ca.certPem;
      caKeyPem = caKey.privateKeyPem;
    }

    const servers = {} as Record<Store, ServerCertificate>;
    for (const store of STORES) {
      const key = new sdk.tls.PrivateKey(`${name}-${store}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const { dnsNames, ipAddresses } = serverNames(store, args.stack, args.extraDnsNames);
      const csr = new sdk.tls.CertRequest(
        `${name}-${store}-csr`,
        { privateKeyPem: key.privateKeyPem, subject: { commonName: dnsNames[0], organization }, dnsNames, ipAddresses },
        { parent: this },
      );
      const cert = new sdk.tls.LocallySignedCert(
        `${name}-${store}-cert`,
        {
          certRequestPem: csr.certRequestPem,
          caPrivateKeyPem: caKeyPem,
          caCertPem,
          validityPeriodHours,
          // Renewed 30 days before expiry, or in the last quarter of a shorter validity (a window
          // as long as the validity would make every preview replace the certificate).
          earlyRenewalHours: Math.min(24 * 30, Math.floor(validityPeriodHours / 4)),
          allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
        },
        { parent: this },
      );
      servers[store] = { certPem: cert.certPem, keyPem: pulumi.secret(key.privateKeyPem) };
    }

    this.caCertPem = caCertPem;
    this.servers = servers;
    this.registerOutputs({ caCertPem });
  }
}
