// The `database` output type (reference §1.6, §8.1): its descriptor for the registry.

import type { OutputDescriptor } from "../descriptor.ts";
import {
  type DatabaseService,
  databaseFromFlags,
  databaseKeys,
  databaseModeFlags,
  databaseModeHelp,
  decodeDatabase,
  renderDatabase,
  validateDatabase,
} from "./config.ts";

export const databaseOutput: OutputDescriptor<DatabaseService> = {
  type: "database",
  keys: databaseKeys,
  defaultNamePrefix: "database",
  decode: decodeDatabase,
  validate: validateDatabase,
  render: renderDatabase,
  startMode: {
    mode: "database",
    flags: databaseModeFlags,
    help: databaseModeHelp,
    fromFlags: databaseFromFlags,
  },
  async create(c, index) {
    const { DatabaseOutput } = await import("./service.ts");
    return new DatabaseOutput(c, index);
  },
};
