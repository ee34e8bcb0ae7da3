// What `tbot install systemd` and `tauth install systemd` share once the unit text is
// rendered: the dry run, the write (atomic, 0644), the no-op on identical content and the
// refusal to replace different content without --force; plus finding the paths that go into
// the unit (the config file that must exist, the executable that is running).

import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { ExitCode, UserError } from "../util/errors.ts";
import { writeStdout } from "./write-out.ts";

export interface InstallRequest {
  program: "tbot" | "tauth";
  unitName: string;
  unitText: string;
  systemdDirectory: string;
  write: boolean;
  force: boolean;
  /** Extra lines printed after a write (e.g. what the service's user must be able to do). */
  notes?: string[];
}

export function installUnit(r: InstallRequest): number {
  const file = join(resolve(r.systemdDirectory), `${r.unitName}.service`);
  if (!r.write) {
    // The notice goes to stderr so that stdout is exactly the unit: `… > tbot.service` works.
    process.stderr.write(
      `Dry-run mode is active. Use '--write' to enable writes.\nThe following would be written to ${file}:\n\n`,
    );
    writeStdout(r.unitText);
    return ExitCode.ok;
  }
  if (!isDirectory(dirname(file)))
    throw new UserError(`systemd directory ${dirname(file)} does not exist; pass --systemd-directory`);
  const existing = readIfExists(file);
  if (existing === r.unitText) {
    writeStdout(`${file} is already up to date; nothing to do.\n`);
    return ExitCode.ok;
  }
  if (existing !== undefined && !r.force)
    throw new UserError(
      `${file} already exists with different content; run with --force to replace it ` +
        `(without --write to see the new unit first)`,
    );
  writeAtomically(file, r.unitText);
  writeStdout(
    `${existing === undefined ? "Wrote" : "Replaced"} ${file}\n` +
      `Reload systemd and start ${r.program} now and at boot:\n` +
      `  systemctl daemon-reload\n  systemctl enable --now ${r.unitName}\n` +
      // enable --now does not restart a running service, which would keep the old unit's command.
      (existing === undefined ? "" : `  systemctl restart ${r.unitName}   # if it was already running\n`),
  );
  for (const n of r.notes ?? []) writeStdout(`Note: ${n}\n`);
  return ExitCode.ok;
}

/**
 * Temp file in the same directory, fsynced, renamed over the unit: systemd (or a reader)
 * sees the old unit or the new one, never half of one. The dot name keeps systemd from ever
 * loading the temp file as a unit.
 */
function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, "wx", 0o644);
    try {
      fchmodSync(fd, 0o644); // open's mode is cut by the umask; systemd units are world-readable.
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UserError(`cannot write ${file}: ${(e as Error).message}`);
  }
  syncDirectory(dirname(file));
}

/** Makes the rename survive a crash. Best effort: the unit is written either way. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {}
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The unit runs the program with this config, so it must exist now; made absolute. */
export function existingConfigPath(path: string | undefined, program: string): string {
  if (!path)
    throw new UserError(
      `"${program} install systemd" needs the config file the service will run with: -c /path/to/${program}.yaml`,
      "bad_parameter",
      ExitCode.usage,
    );
  const abs = resolve(path);
  let isFile = false;
  try {
    isFile = statSync(abs).isFile();
  } catch {}
  if (!isFile) throw new UserError(`config file ${abs} does not exist (or is not a file); create it first`);
  return abs;
}

/**
 * The absolute path that starts `program`. tbot, tctl and tauth are one binary that picks
 * the program from the name it is started as, so the path must end in that name: the
 * executable itself for tbot, the link we were started through (or one beside the binary)
 * for tauth. From source there is no executable to point at: the override is required.
 */
export function runningProgramPath(program: "tbot" | "tauth", override: string | undefined): string {
  const flag = `--${program}-path`;
  if (override !== undefined) {
    if (!isAbsolute(override)) throw new UserError(`${flag} must be an absolute path, got "${override}"`);
    return override;
  }
  const compiled = process.argv[1]?.startsWith("/$bunfs/") ?? false;
  if (!compiled)
    throw new UserError(`not running as the compiled binary; pass ${flag} with the installed ${program}`);
  const argv0 = process.argv0;
  const invoked = argv0.includes("/") ? resolve(argv0) : (Bun.which(argv0) ?? undefined);
  const candidates = [process.execPath, invoked, join(dirname(process.execPath), program)];
  const found = candidates.find((c) => c && basename(c) === program && existsSync(c));
  if (!found)
    throw new UserError(
      `cannot tell where the ${program} executable is; pass ${flag} with its absolute path`,
    );
  return found;
}
