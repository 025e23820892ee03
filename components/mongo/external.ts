// The `external` backend of `nexus:db:Mongo`: a server that exists, reached with the admin login of
// the stack config; nothing is created for the server itself.
import type { MongoBackend } from "./backend";
import { hostedMongoConnections } from "./settings";

export const externalMongo: MongoBackend = (_name, args) => {
  const x = args.config.mongo.external;
  const tls = args.config.mongo.settings.tls.enabled;
  const hosted = { host: x.host, port: x.port, tls, adminUser: x.adminUser, authSource: x.authSource, adminPassword: args.adminPassword };
  return { ...hostedMongoConnections(args.config, hosted, args.passwords), host: x.host, port: x.port, tls, reconcilerManagesUsers: true, ready: [] };
};
