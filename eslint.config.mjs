// ESLint: typescript-eslint's recommended rules, Pulumi's rules against Outputs in template
// literals (they render as a warning string, not the value), and a few of our own.
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "**/node_modules/**", ".tmp/**", ".pulumi-state/**", "dist/**", "test-results/**", "tools/**", "**/*.cjs", "**/*.mjs"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "@pulumi": pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      // Engines and providers require drivers inside functions on purpose (see providers/runtime.ts).
      "@typescript-eslint/no-require-imports": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", destructuredArrayIgnorePattern: "^_" }],
      "no-empty": ["error", { allowEmptyCatch: true }],
    },
  },
  {
    // Engines never import Pulumi: they run in tests, the CLI and dynamic-provider processes alike.
    files: ["engines/**/*.ts", "mongo/**/*.ts", "redis/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [{ group: ["@pulumi/*"], message: "engines and declarations have no Pulumi import" }] }] },
  },
);
