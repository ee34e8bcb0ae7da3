// What an output type tells the rest of tbot about itself: one descriptor per type, exported by
// src/agent/services/<type>/index.ts and listed once in src/agent/services/registry.ts. The
// config layer (decoding, validation, `tbot configure` rendering), the `tbot start <mode>`
// command line and the bot runtime find everything type-specific through it, as the join
// methods do through src/join/registry.ts.
//
// The service that does the work is behind `create`, which imports it on demand: reading the
// registry to check a config loads no runtime code.

import type { MapReader } from "../../util/yaml-source.ts";
import type { ConfigPlaces } from "../config/places.ts";
import type { Destination, OutputConfig } from "../config/types.ts";
import type { OutputService } from "./service.ts";

/** Where a service entry is, for a decoder that notes its settings' places. */
export interface DecodeKit {
  /** The entry's key in the places table, e.g. "services[2]". */
  key: string;
  places: ConfigPlaces;
}

/** Where a service entry is and how the file names it, for cross-field rules. */
export interface ValidateKit extends DecodeKit {
  /** How messages name the entry, as the file spells it, e.g. "outputs[0]". */
  label: string;
  oneshot: boolean;
  warnings: string[];
}

/** The fields common to every type, decoded before the type's own (`type` already canonical). */
export type CommonFields = OutputConfig;

/** `tbot start <mode>` / `tbot configure <mode>`: one output built from flags. */
export interface StartMode<C extends OutputConfig> {
  /** The mode's name on the command line, e.g. "identity". */
  readonly mode: string;
  /**
   * Flags of this mode besides --destination (which every mode has and the CLI parses into a
   * destination). A flag src/cli/tbot-args.ts' option table lacks is added to it: a string,
   * or a boolean when listed in `booleanFlags`.
   */
  readonly flags: readonly string[];
  /** Which of `flags` take no value (`--flag`, `--no-flag`). */
  readonly booleanFlags?: readonly string[];
  /** The mode's flags in `tbot help start`, one "      --flag VALUE   meaning" line each. */
  readonly help?: string;
  /** The output from the mode's flags and the parsed --destination. */
  fromFlags(flags: Readonly<Record<string, string | boolean | string[]>>, destination: Destination): C;
}

export interface OutputDescriptor<C extends OutputConfig = OutputConfig> {
  /** The canonical `type:` of a `services` entry, e.g. "ssh_host". */
  readonly type: string;
  /** Other spellings accepted for `type:` (stored as the canonical name). */
  readonly aliases?: readonly string[];
  /** YAML keys of this type besides the common ones (type, name, destination, …). */
  readonly keys: readonly string[];
  /** The generated name of an unnamed output is `<defaultNamePrefix>-<position + 1>`. */
  readonly defaultNamePrefix: string;
  /** Runs only in a long-running bot (tunnels, APIs): refused with oneshot. */
  readonly daemonOnly?: boolean;
  /**
   * Writes no files (an API on a socket): `destination` is neither needed nor accepted, and the
   * config holds a memory destination in its place (never opened, not rendered).
   */
  readonly noDestination?: boolean;
  /** The type's own fields from the entry (keys already checked against `keys`). */
  decode(m: MapReader, common: CommonFields, kit: DecodeKit): C;
  /** Cross-field rules on the final config (after flags); throws `kit.places.error(…)`. */
  validate?(c: C, kit: ValidateKit): void;
  /** The type's own fields as `tbot configure` writes them (YAML keys; defaults left out). */
  render(c: C): Record<string, unknown>;
  /** The `tbot start <mode>` that builds one output of this type from flags, if any. */
  readonly startMode?: StartMode<C>;
  /** The runtime service for one output (`index`: its position in `services`). */
  create(c: C, index: number): Promise<OutputService>;
}
