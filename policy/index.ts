// The nexus-db policy pack: what a protected stack (staging, prod) must never do, checked by the
// engine on every resource before `pulumi preview` reports and before `pulumi up` acts.
//
//   pulumi preview --policy-pack policy [--policy-pack-config policy/config.json]
//
// Which stacks are protected is the policy config's call (`protectedStacks`, default staging,
// staging-*, prod, prod-*), matched against the stack name in each resource's URN — not the
// program's own `protected` flag, so that a program that forgets to mark its stack protected is
// caught rather than trusted. (Policy packs cannot read the stack config: the engine sends it,
// but @pulumi/policy keeps only the stack's tags.) The program refuses most of the same things
// itself (config/schema.ts); this pack is the second, independent layer.
//
// Every rule is a resource policy, not a stack policy: the engine runs resource policies before
// each step, while stack policies run after `pulumi up` has already acted (and the Automation
// API and the GitHub action run `up` without a preview first).
import { PolicyPack, type ResourceValidationPolicy } from "@pulumi/policy";
import {
  deletionProtectionFindings,
  isProtectedStack,
  loopbackFindings,
  passwordFindings,
  seedDataFindings,
  stackOfUrn,
  tlsFindings,
  DEFAULT_PROTECTED_STACKS,
  type ProtectionConfig,
  type ResourceView,
} from "./rules";

function rule(name: string, description: string, findings: (r: ResourceView) => string[]): ResourceValidationPolicy {
  return {
    name,
    description,
    enforcementLevel: "mandatory",
    configSchema: {
      properties: {
        protectedStacks: {
          type: "array",
          items: { type: "string" },
          description: `Stack names or prefix* globs the rule applies to. Default ${DEFAULT_PROTECTED_STACKS.join(", ")}.`,
        },
      },
    },
    validateResource: (args, reportViolation) => {
      if (!isProtectedStack(stackOfUrn(args.urn), args.getConfig<ProtectionConfig>())) return;
      const view: ResourceView = { type: args.type, name: args.name, urn: args.urn, props: args.props, protect: args.opts.protect };
      for (const message of findings(view)) reportViolation(message);
    },
  };
}

new PolicyPack("nexus-db", {
  policies: [
    rule("nexus-tls-required", "A protected stack needs TLS on every store.", tlsFindings),
    rule("nexus-loopback-only", "A protected stack publishes no port beyond loopback.", loopbackFindings),
    rule("nexus-deletion-protection", "A protected stack protects every data-bearing resource and never drops data.", deletionProtectionFindings),
    rule("nexus-strong-passwords", "A protected stack uses no default or short password.", passwordFindings),
    rule("nexus-no-seed-data", "A protected stack loads no seed data.", seedDataFindings),
  ],
});
