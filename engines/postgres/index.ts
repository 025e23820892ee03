// The PostgreSQL migration engine: no Pulumi import, usable from the provider, the CLI and tests.
export * from "./errors";
export * from "./history";
export * from "./lint";
export * from "./lock";
export * from "./migrator";
export * from "./plan";
export * from "./schema-resource";
export * from "./settings";
export * from "./source";
export { lineAtOffset, lineAtPgPosition, splitStatements, SqlSyntaxError, type SqlStatement } from "./sql-text";
