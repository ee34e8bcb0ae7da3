// The `application` output type (reference §1.6, §8.1): its descriptor for the registry.

import type { OutputDescriptor } from "../descriptor.ts";
import {
  type ApplicationService,
  applicationBooleanFlags,
  applicationFromFlags,
  applicationKeys,
  applicationModeFlags,
  applicationModeHelp,
  decodeApplication,
  renderApplication,
  validateApplication,
} from "./config.ts";

export const applicationOutput: OutputDescriptor<ApplicationService> = {
  type: "application",
  keys: applicationKeys,
  defaultNamePrefix: "application",
  decode: decodeApplication,
  validate: validateApplication,
  render: renderApplication,
  startMode: {
    mode: "application",
    flags: applicationModeFlags,
    booleanFlags: applicationBooleanFlags,
    help: applicationModeHelp,
    fromFlags: applicationFromFlags,
  },
  async create(c, index) {
    const { ApplicationOutput } = await import("./service.ts");
    return new ApplicationOutput(c, index);
  },
};
