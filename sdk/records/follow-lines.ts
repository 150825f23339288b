import { type FSWatcher, watch } from "node:fs";
import { open } from "node:fs/promises";
import { toError } from "../errors.js";
import type { FollowOptions, LineFollower } from "./backend.js";

export interface FollowLinesOptions extends FollowOptions {
  /** How often the file is read when no change is reported (`fs.watch` may miss some). @default 1000 */
  readonly pollMs?: number;
}

/**
 * Hands over each complete line appended to `file` from byte `from` on, with the offset just
 * past it. Changes are noticed with `fs.watch`, and by polling in case it misses them (network
 * file systems, some containers). A line still being written waits for its newline. The file
 * need not exist yet.
 */
export function followLines(
  file: string,
  from: number,
  onLine: (line: string, next: number) => void,
  options: FollowLinesOptions = {},
): LineFollower {
  let offset = from;
  let failures = 0;
  let reading = false;
  let again = false;
  let stopped = false;
  let watcher: FSWatcher | undefined;

  const watchFile = () => {
    if (watcher || stopped) return;
    try {
      watcher = watch(file, { persistent: false }, readSoon);
      watcher.on("error", () => {
        watcher?.close();
        watcher = undefined; // polling carries on; the next read watches again
      });
    } catch {
      // Not there yet, or not watchable here: polling covers it.
    }
  };

  async function readOnce(): Promise<void> {
    const handle = await open(file, "r").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (!handle) return;
    try {
      watchFile();
      const { size } = await handle.stat();
      if (size <= offset) return;
      const bytes = Buffer.alloc(size - offset);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, offset);
      let start = 0;
      for (let end = bytes.indexOf(10); end >= 0 && end < bytesRead; end = bytes.indexOf(10, start)) {
        const line = bytes.toString("utf8", start, end);
        start = end + 1;
        if (stopped) return;
        if (line.trim() !== "") onLine(line, offset + start);
      }
      offset += start;
    } finally {
      await handle.close();
    }
  }

  /**
   * One read at a time; a change reported during a read gets a read of its own after it. A read
   * that fails (the file went away) is told of, and tried again at the next change or poll.
   */
  async function read(): Promise<void> {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        try {
          await readOnce();
          failures = 0;
        } catch (error) {
          failures += 1;
          if (!stopped) options.onError?.(toError(error), failures);
          return;
        }
      } while (again && !stopped);
    } finally {
      reading = false;
    }
  }

  function readSoon(): void {
    void read();
  }

  const poll = setInterval(readSoon, options.pollMs ?? 1000);
  if (!options.keepAlive) poll.unref();
  const caughtUp = read();

  return {
    caughtUp,
    stop() {
      stopped = true;
      clearInterval(poll);
      watcher?.close();
      watcher = undefined;
    },
  };
}
