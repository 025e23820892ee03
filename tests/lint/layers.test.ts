// The lint rules that keep the layers apart, run as `eslint .` runs them (the project's config) on
// code that breaks them: an import cycle, an import that points up a layer, an engine that
// reaches into the declarations. The files' own text on disk is untouched: ESLint lints the text given.
import { ESLint } from "eslint";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..", "..");
const eslint = new ESLint({ cwd: ROOT });
// import/no-cycle first groups the modules into strongly connected components read from disk and
// skips a pair in different ones; a cycle that exists only in the text given here (not on disk) is
// then never seen. The same rule without that shortcut (same result on files on disk):
const eslintNoScc = new ESLint({ cwd: ROOT, overrideConfig: { files: ["**/*.ts"], rules: { "import/no-cycle": ["error", { ignoreExternal: true, disableScc: true }] } } });

/** The rule ids that fire on `code` placed at `file` (relative to the project). */
async function rulesFiring(file: string, code: string, linter = eslint): Promise<string[]> {
  const [r] = await linter.lintText(code, { filePath: path.join(ROOT, file) });
  return r.messages.map((m) => m.ruleId ?? m.message);
}

describe("layer and cycle rules", () => {
  it("a cycle fails: a component's shared settings importing the component; an engine importing its caller", async () => {
    expect(await rulesFiring("components/postgres/settings.ts", 'import { Postgres } from "./index";\nexport const p = Postgres;\n', eslintNoScc)).toContain("import/no-cycle");
    expect(await rulesFiring("engines/postgres/plan.ts", 'import { applyMigrations } from "./migrator";\nexport const a = applyMigrations;\n', eslintNoScc)).toContain("import/no-cycle");
    // A type-only import is erased at run time: the rule lets it through.
    expect(await rulesFiring("engines/postgres/plan.ts", 'import type { EngineOptions } from "./migrator";\nexport type S = EngineOptions;\n', eslintNoScc)).not.toContain("import/no-cycle");
    // Without a cycle, nothing fires.
    expect(await rulesFiring("engines/postgres/plan.ts", 'import { splitStatements } from "./sql-text";\nexport const s = splitStatements;\n', eslintNoScc)).not.toContain("import/no-cycle");
  });

  it("an import up a layer fails: an engine importing a component, config importing a component, a provider importing config", async () => {
    expect(await rulesFiring("engines/postgres/roles.ts", 'import { Postgres } from "../../components/postgres";\nexport const p = Postgres;\n')).toContain("import/no-restricted-paths");
    expect(await rulesFiring("config/read.ts", 'import { stackPassword } from "../components/secrets";\nexport const p = stackPassword;\n')).toContain("import/no-restricted-paths");
    expect(await rulesFiring("providers/runtime.ts", 'import { NAMESPACE } from "../config/names";\nexport const n = NAMESPACE;\n')).toContain("import/no-restricted-paths");
  });

  it("an engine importing the declarations fails; a declaration importing an engine's type passes, its value fails", async () => {
    expect(await rulesFiring("engines/postgres/plan.ts", 'import { WARMUP_SPEC } from "../../redis/warmup";\nexport const w = WARMUP_SPEC;\n')).toContain("@typescript-eslint/no-restricted-imports");
    expect(await rulesFiring("mongo/collections.ts", 'import type { CollectionDeclaration } from "../engines/mongo";\nexport type C = CollectionDeclaration;\n')).toEqual([]);
    expect(await rulesFiring("mongo/collections.ts", 'import { planLines } from "../engines/mongo";\nexport const p = planLines;\n')).toContain("@typescript-eslint/no-restricted-imports");
  });

  it("the tree as it is passes both rules", async () => {
    const results = await eslint.lintFiles(["components/**/*.ts", "config/**/*.ts", "providers/**/*.ts", "policy/**/*.ts"]);
    const layerProblems = results.flatMap((r) => r.messages.filter((m) => m.ruleId?.startsWith("import/")).map((m) => `${path.relative(ROOT, r.filePath)}: ${m.message}`));
    expect(layerProblems).toEqual([]);
  });
});
