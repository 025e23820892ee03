// The provider SDKs a stack may use, loaded the first time a backend asks for one.
//
// Loading an SDK costs 0.1–0.5 s of every preview and up (measured: @pulumi/aws and
// @pulumi/mongodbatlas about 0.4 s each, @pulumi/docker 0.3 s, on top of @pulumi/pulumi), and a
// stack uses at most a few of them: the local stack none of aws, mongodbatlas or docker. Files
// take the SDK's types with `import type` (erased at run time) and its values from here:
//   new sdk.docker.Container(…)
import type * as Aws from "@pulumi/aws";
import type * as Docker from "@pulumi/docker";
import type * as MongodbAtlas from "@pulumi/mongodbatlas";
import type * as Random from "@pulumi/random";
import type * as Tls from "@pulumi/tls";

// Node caches a module after its first require: each getter costs the load once.
export const sdk = {
  get aws(): typeof Aws {
    return require("@pulumi/aws");
  },
  get docker(): typeof Docker {
    return require("@pulumi/docker");
  },
  get mongodbatlas(): typeof MongodbAtlas {
    return require("@pulumi/mongodbatlas");
  },
  get random(): typeof Random {
    return require("@pulumi/random");
  },
  get tls(): typeof Tls {
    return require("@pulumi/tls");
  },
};
