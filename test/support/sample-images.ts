// A folder of images for the thumbnails example, made at test time with sharp (nothing committed):
// several formats and shapes, one smaller than a thumbnail, and a file that is not an image.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import sharp from "sharp";

export interface SampleImage {
  readonly file: string;
  readonly width: number;
  readonly height: number;
  /** The thumbnail's size: the image fit into 256 × 256, never enlarged (sizes chosen to divide exactly). */
  readonly thumbnail: { readonly width: number; readonly height: number };
}

/** In name order, as the flow takes them. */
export const SAMPLE_IMAGES: readonly SampleImage[] = [
  { file: "banner.png", width: 2048, height: 256, thumbnail: { width: 256, height: 32 } },
  { file: "icon.png", width: 100, height: 80, thumbnail: { width: 100, height: 80 } },
  { file: "landscape.jpg", width: 1280, height: 960, thumbnail: { width: 256, height: 192 } },
  { file: "portrait.jpeg", width: 600, height: 1200, thumbnail: { width: 128, height: 256 } },
  { file: "square.webp", width: 512, height: 512, thumbnail: { width: 256, height: 256 } },
];

/** Writes the sample images (noise, so that encoding has work to do) and a text file into `folder`. */
export async function writeSampleImages(folder: string): Promise<void> {
  await Promise.all(
    SAMPLE_IMAGES.map(async ({ file, width, height }) => {
      const noise = sharp({
        create: {
          width,
          height,
          channels: 3,
          background: "#808080",
          noise: { type: "gaussian", mean: 128, sigma: 40 },
        },
      });
      const format = file.endsWith(".png") ? "png" : file.endsWith(".webp") ? "webp" : "jpeg";
      await writeFile(join(folder, file), await noise.toFormat(format).toBuffer());
    }),
  );
  await writeFile(join(folder, "notes.txt"), "not an image\n");
}
