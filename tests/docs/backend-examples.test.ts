// .env.example and config.example.toml are rendered from the handoff description
// (config/backend-handoff.ts) with placeholder values; these tests fail when the committed files
// drift from it, and check that both readers get the same values out of them.
import { parse as parseDotenv } from "dotenv";
import { parse as parseToml } from "smol-toml";
import { describe, expect, it } from "vitest";
import { envVariables, exampleHandoff } from "../../config/backend-handoff";
import { exampleFileStates } from "../../scripts/env-file";

describe("the committed backend examples", () => {
  it("are what the description renders (else: npx tsx scripts/env-file.ts --examples)", () => {
    const files = exampleFileStates();
    expect(files.map((f) => f.file)).toEqual([".env.example", "config.example.toml"]);
    for (const f of files) {
      expect(f.current !== undefined, `${f.file} is missing: run \`npx tsx scripts/env-file.ts --examples\` and commit it`).toBe(true);
      expect(f.current === f.wanted, `${f.file} is out of date: run \`npx tsx scripts/env-file.ts --examples\` and commit it`).toBe(true);
    }
  });

  it("say the same thing in both formats, with placeholders only", () => {
    const [env, toml] = exampleFileStates().map((f) => f.current ?? "");
    const vars = parseDotenv(env);
    const doc = parseToml(toml) as Record<string, Record<string, unknown>>;
    expect(vars).toEqual(Object.fromEntries(envVariables(exampleHandoff()).flatMap((g) => g.vars)));
    expect(doc.database.url).toBe(vars.DATABASE_URL);
    expect(doc.database.max_connections).toBe(Number(vars.DATABASE_MAX_CONNECTIONS));
    expect(doc.mongodb.url).toBe(vars.MONGODB_URL);
    expect(doc.redis.key_prefix).toBe(vars.REDIS_KEY_PREFIX);
    expect(doc.jwt.secret).toBe(vars.JWT_SECRET);
    for (const url of [vars.DATABASE_URL, vars.MONGODB_URL, vars.REDIS_URL]) expect(url).toContain(":CHANGE_ME@");
  });
});
