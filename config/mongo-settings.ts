// The `mongo.settings` of a stack: the reconciler's own settings (engines/mongo/settings.ts) plus the
// declarations' TTL periods (mongo/settings.ts). Composed here, so neither layer imports the other's values.
import { z } from "zod";
import { mongoSettingsShape, refineMongoSettings } from "../engines/mongo/settings";
import { mongoTtlSchema } from "../mongo/settings";

export const nexusMongoSettingsSchema = z
  .object({
    ...mongoSettingsShape,
    ttl: mongoTtlSchema.prefault({}).meta({ description: "Expiry periods of the TTL indexes. Defaults: see each field." }),
  })
  .superRefine(refineMongoSettings);

export type NexusMongoSettings = z.output<typeof nexusMongoSettingsSchema>;
export type NexusMongoSettingsInput = z.input<typeof nexusMongoSettingsSchema>;
