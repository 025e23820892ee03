// ESLint: typescript-eslint's recommended rules, Pulumi's rules against Outputs in template
// literals (they render as a warning string, not the value), the layers of the tree, and no
// import cycle.
//
// Layers, lowest first; an import may point down or sideways, never up:
//   declarations (sql/, mongo/, redis/)  ← engines/  ← providers/, config/  ← components/  ← index.ts, cli/
// Declarations may take the engines' types (`import type`); engines never import declarations:
// the program passes them in. The policy pack (policy/) reads only the shared rules (config/rules.ts).
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import importPlugin from "eslint-plugin-import";
import tseslint from "typescript-eslint";

const TOP = ["./index.ts", "./program.ts", "./cli", "./scripts", "./bench", "./tests"];
const zone = (target, from, message) => ({ target, from, message });

export default tseslint.config(
  { ignores: ["node_modules/**", "**/node_modules/**", ".tmp/**", ".pulumi-state/**", "dist/**", "test-results/**", "tools/**", "**/*.cjs", "**/*.mjs", "vitest.config.mts"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "@pulumi": pulumi, import: importPlugin },
    settings: {
      "import/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import/resolver": { node: { extensions: [".ts", ".js", ".json"] } },
    },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      // Engines and providers require drivers inside functions on purpose (see providers/runtime.ts).
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "no-empty": ["error", { allowEmptyCatch: true }],
      // A cycle means two modules cannot be understood (or loaded) apart: none at run time (a type-only
      // import is erased, and the rule lets it through).
      "import/no-cycle": ["error", { ignoreExternal: true }],
      "import/no-restricted-paths": [
        "error",
        {
          zones: [
            zone(["./engines"], ["./providers", "./config", "./components", "./policy", ...TOP], "engines are the lowest layer of logic: they import no provider, config, component or program"),
            zone(["./providers"], ["./config", "./components", "./policy", ...TOP], "providers adapt engines; they import no config, component or program"),
            zone(["./config"], ["./providers", "./components", "./policy", ...TOP], "config sits below the components; it imports no provider, component or program"),
            zone(["./components"], ["./policy", ...TOP], "components import no program, CLI or test"),
            zone(["./sql", "./mongo", "./redis"], ["./providers", "./config", "./components", "./policy", ...TOP], "declarations are data: they import nothing above the engines"),
            zone(["./policy"], ["./providers", "./components", "./engines/postgres", "./engines/mongo", "./engines/redis", ...TOP], "the policy pack reads only the shared rules (config/rules.ts)"),
          ],
        },
      ],
    },
  },
  {
    // Engines never import Pulumi: they run in tests, the CLI and dynamic-provider processes alike.
    files: ["engines/**/*.ts", "mongo/**/*.ts", "redis/**/*.ts", "config/rules.ts", "config/names.ts", "config/keys.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["@pulumi/*"], message: "engines, declarations and the shared rules have no Pulumi import" }] }] },
  },
  {
    // Engines take the declarations as parameters; they never reach into them.
    files: ["engines/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        { patterns: [{ regex: "^\\.\\./\\.\\./(sql|mongo|redis)(/|$)", message: "engines never import the declarations: take them as parameters" }] },
      ],
    },
  },
  {
    // Declarations take the engines' types only.
    files: ["mongo/**/*.ts", "redis/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": ["error", { patterns: [{ regex: "^\\.\\./engines(/|$)", allowTypeImports: true, message: "declarations import the engines' types only" }] }],
    },
  },
);
