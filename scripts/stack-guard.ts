// `npx tsx scripts/stack-guard.ts <stack>`: exit 1, saying how to fix it, when a protected stack's
// secrets would be encrypted with the documented dev passphrase or an empty one
// (config/secrets-provider.ts). scripts/stack-prelude.sh runs it before the stack is created or
// selected, so `npm run up -- prod` with the dev passphrase creates nothing.
import { resolve } from "node:path";
import { checkStackSecrets } from "../config/secrets-provider";

const stack = process.argv[2];
if (!stack) {
  console.error("usage: stack-guard.ts <stack>");
  process.exit(2);
}
const problem = checkStackSecrets(resolve(__dirname, ".."), stack);
if (problem) {
  console.error(`[stack] ${problem}`);
  process.exit(1);
}
