/** Below this, copying a buffer costs less than moving it (detaching has a fixed cost). */
const MOVE_FROM_BYTES = 64 * 1024;

/**
 * The buffers among `views` worth moving to another thread instead of copying: large ones
 * that each view owns whole.
 */
export function transferable(views: readonly Uint8Array[]): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const view of views) {
    const buffer = view.buffer;
    if (view.byteLength < MOVE_FROM_BYTES) continue;
    if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength) {
      if (!buffers.includes(buffer)) buffers.push(buffer);
    }
  }
  return buffers;
}
