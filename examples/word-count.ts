// The README's first flow: map a task over inputs, then pass the futures on.
import { flow, task } from "squall";

const countWords = task({ retries: 2, timeoutSeconds: 5 }, async function countWords(text: string) {
  await new Promise((resolve) => setTimeout(resolve, 100)); // stands in for real I/O
  return text.split(/\s+/).filter(Boolean).length;
});

const total = task(function total(counts: number[]) {
  return counts.reduce((sum, n) => sum + n, 0);
});

export const wordCount = flow(async function wordCount(texts: string[]) {
  const counts = countWords.map(texts); // one run per text, all at once
  return total.submit(counts); // futures as arguments: it runs when they are done
});

console.log(await wordCount(["the quick brown fox", "jumps over", "the lazy dog"])); // 9
