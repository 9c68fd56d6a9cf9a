/**
 * Child of fs_api_test.ts, run without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH
 * (so root meets file permissions): each call must reject with EACCES and
 * leave no descriptor open. Prints one JSON line. It never closes the
 * default ring: the process must still exit on its own.
 *
 *     setpriv --inh-caps=-dac_override,... bun tests/fs_eacces_child.ts FILE DIR
 */
import { readdirSync } from "node:fs";
import process from "node:process";
import {
  copyFile,
  defaultRing,
  openFile,
  readFile,
  UringError,
  writeFile,
} from "../mod.ts";
import { closeFd, pipeFds, writeFd } from "../raw.ts";

const [file, dir] = process.argv.slice(2);
const fds = () => readdirSync("/proc/self/fd").length;
await readFile("/proc/self/status"); // the default ring exists
// Its waiter (the realm's poll thread and control eventfd) starts only when
// a request has to wait for it, which a read of an empty pipe does; file
// requests usually complete on the JS thread itself.
const [pipeRead, pipeWrite] = pipeFds();
setTimeout(() => writeFd(pipeWrite, new Uint8Array(1)), 20);
await defaultRing().read(pipeRead, new Uint8Array(1), -1);
closeFd(pipeRead);
closeFd(pipeWrite);

const calls: Record<string, () => Promise<unknown>> = {
  readFile: () => readFile(file),
  writeFile: () => writeFile(file, "x"),
  copyFileFrom: () => copyFile(file, `${dir}/../copy-target-${process.pid}`),
  copyFileInto: () => copyFile("/proc/self/status", `${dir}/new`),
  writeFileInto: () => writeFile(`${dir}/new`, "x"),
  openFile: () => openFile(file),
};
const results: Record<string, { code: string; leaked: number }> = {};
for (const [name, call] of Object.entries(calls)) {
  const before = fds();
  let code = "resolved";
  try {
    await call();
  } catch (error) {
    code = error instanceof UringError ? error.code : `other: ${error}`;
  }
  results[name] = { code, leaked: fds() - before };
}
console.log(JSON.stringify(results));
