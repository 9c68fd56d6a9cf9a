/**
 * `uring probe [PATH]`: what the running kernel's io_uring can do, and
 * whether PATH (a file or a block device) can carry Protection
 * Information, or why not.
 *
 * @module
 */
import { probe, type ProbeResult } from "../ring/probe.ts";
import type { TargetProfile } from "../ring/target_probe.ts";
import type { ParsedArgs } from "./args.ts";
import type { Command } from "./command.ts";
import { EnvironmentError, EXIT_OK } from "./errors.ts";
import { describeFailure } from "./files.ts";
import { formatFields, toJson, wrapWords, writeOut } from "./output.ts";

/**
 * Runs `probe(path)`, turning "cannot examine PATH" into an
 * {@linkcode EnvironmentError}.
 *
 * @example
 * ```ts
 * import { probeOrExplain } from "./probe.ts";
 * probeOrExplain("/dev/shm").target?.integrity; // false
 * ```
 */
export function probeOrExplain(path?: string): ProbeResult {
  try {
    return probe(path);
  } catch (error) {
    throw new EnvironmentError(describeFailure(path ?? "probe", error));
  }
}

function targetFields(
  t: TargetProfile,
  k: ProbeResult["kernel"],
): [string, string][] {
  const fields: [string, string][] = [
    ["kind", t.kind],
    ["block device", t.device ?? "none"],
    [
      "logical block",
      t.logicalBlockSize ? `${t.logicalBlockSize} bytes` : "unknown",
    ],
  ];
  if (!t.integrity) {
    fields.push(["PI", `no: ${t.reason ?? "no integrity profile"}`]);
    return fields;
  }
  fields.push(
    ["PI", `yes (from ${t.source})`],
    ["PI type", String(t.piType ?? "?")],
    ["guard", t.guard],
    ["interval", `${t.interval} bytes`],
    [
      "metadata",
      `${t.metadataSize} bytes per interval, tuple ${t.tupleSize} bytes at offset ${t.piOffset}`,
    ],
    [
      "ref tags",
      t.refTagChecked ? "checked by the device" : "not checked (Type 3)",
    ],
  );
  if (!k.rwAttr) {
    // The device checks PI the kernel generates, but the application's own
    // tuples cannot reach it: say so next to the "yes" above.
    fields.push([
      "PI through io_uring",
      `no: kernel ${k.release} cannot carry PI through io_uring (IORING_FEAT_RW_ATTR, Linux 6.14+); ` +
      "the kernel generates and checks the tuples itself",
    ]);
  }
  return fields;
}

/**
 * The human-readable probe report.
 *
 * @example
 * ```ts
 * import { probe } from "../ring/probe.ts";
 * import { formatProbe } from "./probe.ts";
 * console.log(formatProbe(probe("/dev/shm")));
 * ```
 */
export function formatProbe(result: ProbeResult): string {
  const k = result.kernel;
  const out = [
    formatFields([
      ["kernel", k.release],
      ["io_uring", k.ioUring ? "yes" : `no: ${k.reason ?? "unavailable"}`],
      [
        "rw attributes",
        k.rwAttr
          ? "yes (IORING_FEAT_RW_ATTR: PI metadata can travel with reads and writes)"
          : k.ioUring
          ? "no (needs Linux 6.14+)"
          : "unknown (io_uring is unavailable)",
      ],
      ["features", `${k.features.length}`],
    ]),
    wrapWords(k.features, 78, "  "),
    `opcodes: ${k.opcodes.length}\n`,
    wrapWords(k.opcodes, 78, "  "),
  ];
  if (result.target) {
    out.push(`\n${result.target.path}\n`);
    out.push(formatFields(targetFields(result.target, k), "  "));
  }
  return out.join("");
}

/** `uring probe`. */
export const probeCommand: Command = {
  spec: {
    name: "probe",
    summary:
      "Show the kernel's io_uring features and opcodes, read/write attribute (PI) support, and the integrity profile of PATH.",
    positionals: [{
      name: "PATH",
      description: "a file or block device to examine",
      optional: true,
    }],
    options: {
      json: {
        type: "boolean",
        description: "print the probe() object ({ kernel, target })",
      },
    },
    details:
      `PATH may be a block device (/dev/nvme0n1) or a file or directory on one; the
integrity profile comes from FS_IOC_GETLBMD_CAP (Linux 6.17+) or sysfs.
Exit codes: 0 reported, 2 PATH cannot be examined.`,
    examples: ["probe", "probe /dev/nvme0n1 --json"],
  },
  async run(args: ParsedArgs): Promise<number> {
    const result = probeOrExplain(args.positionals[0]);
    await writeOut(
      args.options.json ? toJson(result) + "\n" : formatProbe(result),
    );
    return EXIT_OK;
  },
};
