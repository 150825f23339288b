/** The buffers among `views` that can move to another thread instead of being copied: those each view owns whole. */
export function transferable(views: readonly Uint8Array[]): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const view of views) {
    const buffer = view.buffer;
    if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength) {
      if (!buffers.includes(buffer)) buffers.push(buffer);
    }
  }
  return buffers;
}
