/**
 * Calls `before` with the text of every write to `stream`, just before it is written, and
 * writes it unchanged. Returns a function that takes the tap out; if something has tapped
 * the stream since, this tap stays in place but stops calling `before`.
 */
export function tapWrites(stream: NodeJS.WriteStream, before: (text: string) => void): () => void {
  const previous = stream.write;
  let active = true;
  const tapped = function write(this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (active) {
      try {
        before(textOf(chunk));
      } catch {}
    }
    return (previous as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as NodeJS.WriteStream["write"];
  stream.write = tapped;
  return () => {
    active = false;
    if (stream.write === tapped) stream.write = previous;
  };
}

/** The writes of `stream` as they are now, bound: output that no tap installed later sees. */
export function rawWriter(stream: NodeJS.WriteStream): (text: string) => void {
  const write = stream.write.bind(stream);
  return (text) => {
    write(text);
  };
}

function textOf(chunk: unknown): string {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString();
  return String(chunk);
}
