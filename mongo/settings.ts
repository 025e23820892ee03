// The stack settings that belong to the platform's declarations: the TTL periods of the collections
// in ./collections.ts. config/mongo-settings.ts adds them to the reconciler's own settings.
import { z } from "zod";
import { DEFAULT_TTL_PERIODS } from "./collections";

/** A period in seconds as a TTL index takes it (0 to 2^31 - 1). */
const seconds = z.number().int().min(0).max(2_147_483_647);

export const mongoTtlSchema = z.object({
  engineStatsSeconds: seconds.default(DEFAULT_TTL_PERIODS.engineStatsSeconds).meta({ description: "How long engine_stats samples are kept, in seconds. Default 2592000 (30 days)." }),
  sandboxReportsSeconds: seconds.default(DEFAULT_TTL_PERIODS.sandboxReportsSeconds).meta({ description: "How long sandbox_reports are kept, in seconds. Default 7776000 (90 days)." }),
  threatIndicatorsAfterValiditySeconds: seconds.default(DEFAULT_TTL_PERIODS.threatIndicatorsAfterValiditySeconds).meta({ description: "How long a threat indicator is kept past its `valid_until`, in seconds. Default 0." }),
});
