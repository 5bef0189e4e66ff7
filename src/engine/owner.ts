import { readFileSync } from "node:fs";
import { hostname } from "node:os";

/**
 * Who made a container: the isol8 process, told apart from any other that
 * ever had its pid. A pid alone is reused (after the process ends, and from
 * zero after a reboot); with the process's start time (clock ticks after
 * boot, `/proc/<pid>/stat` field 22) and the boot's id it names one process.
 */
interface Owner {
  host: string;
  pid: number;
  /** Absent where the system has no /proc (then only the pid is known). */
  startTime?: string;
  bootId?: string;
}

/** The `isol8.owner` label value: `<host>:<pid>:<start time>:<boot id>`, or `<host>:<pid>` without /proc. */
export function ownerLabel(owner: Owner): string {
  const parts = [owner.host, String(owner.pid)];
  if (owner.startTime !== undefined && owner.bootId !== undefined)
    parts.push(owner.startTime, owner.bootId);
  return parts.join(":");
}

/** An `isol8.owner` label read back; undefined for a value no isol8 wrote. */
export function parseOwnerLabel(value: string | undefined): Owner | undefined {
  const parts = value?.split(":") ?? [];
  const [host, pid, startTime, bootId] = parts;
  if (!host || !pid || !/^[1-9]\d*$/.test(pid) || (parts.length !== 2 && parts.length !== 4))
    return undefined;
  if (parts.length === 2) return { host, pid: Number(pid) };
  if (!startTime || !bootId) return undefined;
  return { host, pid: Number(pid), startTime, bootId };
}

/**
 * Whether a label names the process `pid` of `host` as the owner, whatever
 * its start time: for a caller that knows only the pid (of a child process
 * that may have ended), such as a test counting what a server left behind.
 */
export function labelNamesProcess(label: string | undefined, host: string, pid: number): boolean {
  const owner = parseOwnerLabel(label);
  return owner !== undefined && owner.host === host && owner.pid === pid;
}

/** This machine as it answers who is alive: its name, boot and processes. */
export interface ProcessTable {
  host: string;
  /** Undefined without /proc. */
  bootId: string | undefined;
  /** The start time of a running process; null when no process has that pid; undefined when the system cannot say. */
  startTime(pid: number): string | null | undefined;
  /** Whether a process with this pid exists (for owners recorded without a start time). */
  exists(pid: number): boolean;
}

/** The processes of this machine, through /proc where there is one. */
export const thisMachine: ProcessTable = {
  host: hostname(),
  bootId: readBootId(),
  startTime: procStartTime,
  exists(pid) {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      // EPERM: it exists, as another user's.
      return (error as NodeJS.ErrnoException).code === "EPERM";
    }
  },
};

/** The owner of what this process creates. */
export function currentOwner(): Owner {
  const startTime = procStartTime(process.pid) ?? undefined;
  const { host, bootId } = thisMachine;
  return startTime && bootId
    ? { host, pid: process.pid, startTime, bootId }
    : { host, pid: process.pid };
}

function readBootId(): string | undefined {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat; null when the process is gone, undefined without /proc. */
function procStartTime(pid: number): string | null | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return undefined;
    return readBootId() === undefined ? undefined : null;
  }
  return startTimeFromStat(stat);
}

/**
 * The start time in a /proc/<pid>/stat line. The command name (field 2) is
 * in parentheses and may hold spaces and parentheses itself, so fields are
 * counted from the last `)`: field 3 is the first after it, 22 the 20th.
 */
export function startTimeFromStat(stat: string): string | undefined {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const value = fields[22 - 3];
  return value && /^\d+$/.test(value) ? value : undefined;
}

/** Why a container's owner counts as alive (it is kept) or gone (it may be removed). */
export type OwnerState =
  | { alive: true; why: "running" | "another host" | "unknown owner" | "cannot tell" }
  | { alive: false; why: "exited" | "pid reused" | "rebooted" };

/**
 * Whether the owner recorded in a label still runs here. Anything this
 * machine cannot judge counts as alive: another host's owner, a label no
 * isol8 wrote, a system without /proc asked about a start time.
 */
export function ownerState(label: string | undefined, table: ProcessTable): OwnerState {
  const owner = parseOwnerLabel(label);
  if (!owner) return { alive: true, why: "unknown owner" };
  if (owner.host !== table.host) return { alive: true, why: "another host" };
  if (owner.startTime === undefined || owner.bootId === undefined)
    return table.exists(owner.pid)
      ? { alive: true, why: "running" }
      : { alive: false, why: "exited" };
  if (table.bootId === undefined) return { alive: true, why: "cannot tell" };
  if (owner.bootId !== table.bootId) return { alive: false, why: "rebooted" };
  const startTime = table.startTime(owner.pid);
  if (startTime === undefined) return { alive: true, why: "cannot tell" };
  if (startTime === null) return { alive: false, why: "exited" };
  return startTime === owner.startTime
    ? { alive: true, why: "running" }
    : { alive: false, why: "pid reused" };
}
