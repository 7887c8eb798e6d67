/**
 * What the benchmark ran on: CPU, memory, kernel, load, and the versions of every tool it timed.
 *
 * @module
 */

import { run } from "./_exec.ts";
import { VERSION } from "../shared/version.ts";

/** The machine a run was measured on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  /** Filesystem of the directory the benchmark works in (the ext4 figures). */
  workFilesystem: string;
  loadAverageStart: number[];
  loadAverageEnd?: number[];
}

/** Versions of what was measured. */
export interface Versions {
  sqlrs: string;
  deno: string;
  v8: string;
  typescript: string;
  postgres: string;
  btrfsProgs: string | null;
  xfsprogs: string | null;
  coreutils: string | null;
}

async function firstLine(argv: string[]): Promise<string | null> {
  try {
    const result = await run(argv);
    const text = (result.stdout.trim() || result.stderr.trim()).split("\n")[0]?.trim();
    return result.code === 0 && text ? text : null;
  } catch {
    return null;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** Describes this machine; `workDir` is where the plain-filesystem figures are taken. */
export async function machineInfo(workDir: string): Promise<MachineInfo> {
  const cpuinfo = await readText("/proc/cpuinfo");
  const cpu = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? Deno.build.arch;
  const meminfo = await readText("/proc/meminfo");
  const memKb = Number(/^MemTotal:\s*(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const osRelease = await readText("/etc/os-release");
  const os = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? Deno.build.os;
  const fs = await firstLine(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "-T", workDir]);
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round((memKb / 1024 / 1024) * 10) / 10,
    kernel: Deno.osRelease(),
    os,
    workFilesystem: fs?.replace(/\s+/g, " on ") ?? "unknown",
    loadAverageStart: Deno.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** Versions of sqlrs, Deno, PostgreSQL (from `bindir`) and the filesystem tools. */
export async function versions(bindir: string): Promise<Versions> {
  return {
    sqlrs: VERSION,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    postgres: (await firstLine([`${bindir}/postgres`, "--version"])) ?? "unknown",
    btrfsProgs: await firstLine(["btrfs", "--version"]),
    xfsprogs: await firstLine(["mkfs.xfs", "-V"]),
    coreutils: await firstLine(["cp", "--version"]),
  };
}
