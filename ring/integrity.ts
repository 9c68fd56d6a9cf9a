/**
 * What a failed request that carried attributes becomes. An integrity
 * failure (-EILSEQ) is diagnosed interval by interval
 * (integrity_diagnosis.ts) into an `IntegrityError`;
 * {@linkcode explainAttributeError} turns -EINVAL / -EOPNOTSUPP on a PI
 * request into the likely cause.
 *
 * @module
 */
import { UringError } from "../sys/errors.ts";
import {
  EFAULT,
  EILSEQ,
  EINVAL,
  EOPNOTSUPP,
  errnoMessage,
  errnoName,
} from "../structs/errno.ts";
import type { PiAttribute, PiOptions } from "./pi_attribute.ts";
import { probeKernel } from "./kernel_probe.ts";
import type { ProbeResult } from "./probe.ts";
import type { TargetProfile } from "./target_probe.ts";
import type { OpcodeSpec } from "./opcodes.ts";
import { targetOfFd } from "./pi_validate.ts";
import { IntegrityError, type IntegrityErrorInit } from "./integrity_error.ts";
import { diagnoseIntegrity, rereadFor } from "./integrity_diagnosis.ts";

/**
 * What the request looked like, to make {@linkcode explainAttributeError}
 * precise.
 *
 * @example
 * ```ts
 * import type { AttributeRequestInfo } from "./integrity.ts";
 * const info: AttributeRequestInfo = { dataLength: 4096, metaLength: 32, flags: 7 };
 * ```
 */
export interface AttributeRequestInfo {
  /** Data bytes in the request. */
  readonly dataLength?: number;
  /** Metadata buffer bytes (`len` of the PI attribute). */
  readonly metaLength?: number;
  /** IO_INTEGRITY_CHK_* bits asked for. */
  readonly flags?: number;
  /** Whether the fd had O_DIRECT. */
  readonly direct?: boolean;
}

/**
 * The likely cause of an error the kernel returned for a PI request, in
 * words (for `UringError`'s `detail`). Accepts the errno or `-errno`.
 *
 * @example
 * ```ts
 * import { explainAttributeError } from "./integrity.ts";
 * import { probe } from "./probe.ts";
 * explainAttributeError(-22, probe("/dev/shm"));
 * // "the kernel refused the PI attribute because /dev/shm cannot carry integrity metadata: tmpfs has no block device ..."
 * ```
 */
export function explainAttributeError(
  errno: number,
  probed?: ProbeResult,
  request: AttributeRequestInfo = {},
): string {
  const n = Math.abs(errno);
  const target = probed?.target;
  if (probed && !probed.kernel.rwAttr && (n === EINVAL || n === EOPNOTSUPP)) {
    return `kernel too old: read/write attributes need Linux 6.14+ (${probed.kernel.release} lacks IORING_FEAT_RW_ATTR)`;
  }
  switch (n) {
    case EINVAL: {
      if (target && !target.integrity) {
        return `the kernel refused the PI attribute because ${target.path} cannot carry integrity metadata: ${target.reason}`;
      }
      if (target?.integrity) {
        const causes: string[] = [];
        const { dataLength, metaLength, flags } = request;
        if (dataLength !== undefined && metaLength !== undefined) {
          const need = (dataLength / target.interval) * target.metadataSize;
          if (need !== metaLength) {
            causes.push(
              `the metadata buffer has ${metaLength} bytes but ${dataLength} bytes of data need ${need}`,
            );
          }
        }
        if (flags !== undefined && (flags & ~0x7) !== 0) {
          causes.push(`unknown check flags 0x${flags.toString(16)}`);
        }
        if (causes.length === 0) {
          causes.push(
            "a metadata length that does not match the data, misaligned buffers or offset, or a non-zero reserved field",
          );
        }
        return `the kernel refused the PI attribute for ${target.path}: ${
          causes.join("; ")
        }`;
      }
      return "the kernel refused the PI attribute: the target probably has no integrity profile (probe(path) tells), " +
        "or the metadata length does not equal data length ÷ protection interval × metadata size";
    }
    case EOPNOTSUPP:
      return request.direct === true
        ? "the file does not support integrity metadata on direct I/O"
        : "PI needs direct I/O: open the file with O_DIRECT (the kernel refuses metadata on buffered I/O)";
    case EFAULT:
      return "the attribute struct or the metadata buffer is not mapped memory";
    case EILSEQ:
      return "the device's integrity check failed (guard, application tag or reference tag)";
    default:
      return `${errnoName(n)}: ${errnoMessage(n)}`;
  }
}

/**
 * What {@linkcode rejectAttributeFailure} needs of a failed request.
 *
 * @example
 * ```ts
 * import type { AttributeRequest } from "./integrity.ts";
 * import { OPS } from "./ops.ts";
 * const req: AttributeRequest = {
 *   spec: OPS.read, fd: 3, off: 0, data: new Uint8Array(512),
 *   attrs: {}, reject: () => {},
 * };
 * ```
 */
export interface AttributeRequest {
  /** The operation. */
  readonly spec: OpcodeSpec;
  /** Its file descriptor. */
  readonly fd: number;
  /** Its file offset. */
  readonly off: number;
  /** The data buffer(s). */
  readonly data: ArrayBufferView | readonly ArrayBufferView[] | null;
  /** The attributes it carried. */
  readonly attrs: { readonly pi?: PiAttribute };
  /** Rejects its promise. */
  reject(reason: unknown): void;
}

/**
 * Rejects a request that carried attributes. An integrity failure
 * (-EILSEQ) is explained interval by interval: a write's outgoing data
 * and metadata are verified in software; a read's range is read again
 * without device checks and verified. Other errors get the likely cause
 * from the probe. `read` re-reads a range (undefined while the ring is
 * closing: the diagnosis then says it could not re-read).
 *
 * @example
 * ```ts
 * import { rejectAttributeFailure } from "./integrity.ts";
 * import { OPS } from "./ops.ts";
 * rejectAttributeFailure({
 *   spec: OPS.write, fd: 3, off: 0, data: new Uint8Array(512),
 *   attrs: {}, reject: console.error,
 * }, -22, undefined); // rejects with a UringError (EINVAL) and the likely cause
 * ```
 */
export function rejectAttributeFailure(
  op: AttributeRequest,
  res: number,
  read:
    | ((
      fd: number,
      data: Uint8Array,
      offset: number,
      options: { pi: PiOptions },
    ) => Promise<number>)
    | undefined,
): void {
  const pi = op.attrs.pi;
  const fd = op.fd;
  let target: TargetProfile | undefined;
  try {
    target = targetOfFd(fd);
  } catch {
    target = undefined; // the fd may be closed already
  }
  if (res === -EILSEQ && pi) {
    const views = (Array.isArray(op.data) ? op.data : [op.data]).map((
      v: ArrayBufferView,
    ) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    const direction = op.spec.writesMemory ? "read" : "write";
    const reread = direction === "read" && read !== undefined
      ? rereadFor(
        pi,
        (data, off, piOptions) => read(fd, data, off, { pi: piOptions }),
      )
      : undefined;
    diagnoseIntegrity({
      direction,
      data: views.length === 1 ? views[0] : views,
      meta: pi.meta,
      pi,
      format: target?.integrity ? target : undefined,
      offset: op.off,
      lbaSize: target?.logicalBlockSize,
      reread,
    }).catch((error) => ({
      undetermined: `the re-read to find the failed interval failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    })).then((diagnosis) =>
      op.reject(
        new IntegrityError({
          op: op.spec.name,
          fd,
          offset: op.off,
          flags: pi.flags,
          ...diagnosis,
        } as IntegrityErrorInit),
      )
    );
    return;
  }
  let detail: string | undefined;
  try {
    detail = explainAttributeError(res, { kernel: probeKernel(), target }, {
      dataLength: Array.isArray(op.data)
        ? op.data.reduce(
          (n: number, b: ArrayBufferView) => n + b.byteLength,
          0,
        )
        : (op.data as ArrayBufferView | null)?.byteLength,
      metaLength: pi?.meta.byteLength,
      flags: pi?.flags,
    });
  } catch {
    detail = undefined;
  }
  op.reject(UringError.from(res, { op: op.spec.name, fd, detail }));
}
