import { describe, expect, it } from "vitest";
import { MAX_PARTS, PART_BYTES, partBytesFor } from "../../sdk/aws/multipart.js";

const MiB = 1024 * 1024;

describe("the part size of a multipart upload", () => {
  it("is 8 MiB up to 10,000 parts of it, then just enough whole MiB to fit 10,000 parts", () => {
    expect(partBytesFor(200 * MiB)).toBe(PART_BYTES);
    expect(partBytesFor(MAX_PARTS * PART_BYTES)).toBe(8 * MiB);
    expect(partBytesFor(MAX_PARTS * PART_BYTES + 1)).toBe(9 * MiB);
    expect(partBytesFor(1024 * 1024 * MiB)).toBe(105 * MiB); // 1 TiB: 104.86 MiB a part
  });

  it("refuses a value that would need parts above S3's 5 GiB", () => {
    expect(() => partBytesFor(60 * 1024 * 1024 * MiB)).toThrow(
      `A value of ${60 * 1024 * 1024 * MiB} bytes cannot be uploaded to S3: it would take parts of more than 5 GiB.`,
    );
  });
});
