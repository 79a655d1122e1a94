/** Whether processes the tests started (or their tools did) are still there. */
import { setTimeout as sleep } from "node:timers/promises";

/** Whether a process of this id exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the process is gone within `ms` (checked every 100 ms). */
export async function goneWithin(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms && alive(pid); waited += 100) await sleep(100);
  return !alive(pid);
}
