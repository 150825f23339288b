import { describe, expect, it } from "vitest";
import { TerminalIds } from "../../sdk/aws/record/terminal-ids.js";

const id = (prefix: string, n: number) => `${prefix}-${n.toString(36)}`;

describe("TerminalIds", () => {
  it("holds exactly the ids added, in any order, as the fewest ranges", () => {
    const ids = new TerminalIds();
    const added = new Set<number>();
    // A fixed shuffle of 0..499 with gaps: every 7th number is left out.
    const numbers = Array.from({ length: 500 }, (_, i) => (i * 263) % 500).filter((n) => n % 7 !== 3);
    for (const n of numbers) {
      ids.add(id("ab12", n));
      ids.add(id("ab12", n)); // twice: no change
      added.add(n);
    }

    for (let n = 0; n < 500; n++) expect(ids.has(id("ab12", n))).toBe(added.has(n));
    const ranges = ids.toJSON().ranges.ab12 as [number, number][];
    // One range between each pair of gaps, none touching another.
    expect(ranges).toHaveLength(72);
    for (let i = 1; i < ranges.length; i++) {
      expect((ranges[i] as [number, number])[0]).toBeGreaterThan((ranges[i - 1] as [number, number])[1] + 1);
    }
    expect(new Set(ids.ids())).toEqual(new Set([...added].map((n) => id("ab12", n))));
  });

  it("fills a gap by joining the ranges on both sides", () => {
    const ids = new TerminalIds();
    for (const n of [1, 2, 4, 5]) ids.add(id("cd", n));
    expect(ids.toJSON().ranges.cd).toEqual([
      [1, 2],
      [4, 5],
    ]);

    ids.add(id("cd", 3));

    expect(ids.toJSON().ranges.cd).toEqual([[1, 5]]);
  });

  it("keeps ids of other shapes as they are, and survives JSON", () => {
    const ids = new TerminalIds();
    ids.add("not-a-serial-id!");
    ids.add(id("ef", 9));

    const copy = TerminalIds.fromJSON(JSON.parse(JSON.stringify(ids.toJSON())));

    expect(copy.has("not-a-serial-id!")).toBe(true);
    expect(copy.has(id("ef", 9))).toBe(true);
    expect(copy.has(id("ef", 8))).toBe(false);
    expect([...copy.ids()].sort()).toEqual([id("ef", 9), "not-a-serial-id!"].sort());
  });
});
