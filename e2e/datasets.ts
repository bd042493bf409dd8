// Datasets the studio specs drop and pick: generated here (PNGs through the project's encoder), with the files a
// real folder gets wrong. EXPECTED_* are the report counts the ingester must give; test/ui/e2e-datasets.test.ts
// checks them against the Node ingester, so a spec failure points at the browser path, not at the fixture.
import { rgbPng, type FileSpec } from '../test/data/ingest/fixtures';

const COLORS: Array<[string, [number, number, number]]> = [
  ['red', [220, 40, 40]],
  ['green', [40, 190, 70]],
  ['blue', [50, 80, 230]],
  ['yellow', [235, 215, 40]],
  ['magenta', [210, 50, 200]],
];
const SHAPES = ['square', 'stripe', 'dot', 'frame'] as const;

function drawn(shape: (typeof SHAPES)[number], c: [number, number, number], size: number): Uint8Array {
  const bg: [number, number, number] = [16, 18, 22];
  const mid = size / 2;
  return rgbPng(size, size, (px, py) => {
    const [x, y] = [px + 0.5, py + 0.5]; // pixel centres, so shapes sit in the middle
    const inside =
      shape === 'square'
        ? Math.abs(x - mid) < size / 4 && Math.abs(y - mid) < size / 4
        : shape === 'stripe'
          ? Math.abs(y - mid) < size / 6
          : shape === 'dot'
            ? (x - mid) ** 2 + (y - mid) ** 2 < (size / 4) ** 2
            : x < 2 || y < 2 || x > size - 2 || y > size - 2;
    return inside ? c : bg;
  });
}

/** 20 captioned images (5 colours × 4 shapes, 16×16 px), plus one of each common mistake. */
export function messyFolder(): Record<string, FileSpec> {
  const files: Record<string, FileSpec> = {};
  for (const [name, c] of COLORS) {
    for (const s of SHAPES) {
      const stem = `${s === 'frame' ? 'frames/' : ''}${name}-${s}`;
      files[`${stem}.png`] = drawn(s, c, 16);
      files[`${stem}.txt`] = `a ${name} ${s}`;
    }
  }
  const good = drawn('dot', [200, 120, 40], 16);
  files['corrupt.png'] = good.subarray(0, good.length - 30); // truncated inside the image data
  files['corrupt.txt'] = 'a truncated image';
  files['uncaptioned.png'] = drawn('square', [120, 120, 120], 16);
  files['notes.txt'] = 'shot on a sunny day';
  files['README.md'] = '# my dataset\n';
  files['.DS_Store'] = new Uint8Array([0, 0, 0, 1, 66, 117, 100, 49]); // left out by the page's walk, reported
  return files;
}

export const EXPECTED_MESSY = {
  taken: 20,
  skipped: { 'hidden-file': 1, 'caption-without-image': 1, 'unsupported-type': 1, 'no-caption': 1, 'corrupt-image': 1 },
  warnings: {} as Record<string, number>,
};

/** Hugging Face metadata.jsonl with one line that does not parse. */
export function jsonlFolder(): Record<string, FileSpec> {
  const files: Record<string, FileSpec> = {};
  const lines: string[] = [];
  COLORS.slice(0, 4).forEach(([name, c]) => {
    files[`${name}.png`] = drawn('dot', c, 16);
    lines.push(JSON.stringify({ file_name: `${name}.png`, text: `a ${name} dot` }));
  });
  lines.splice(2, 0, '{"file_name": "broken.png", "text": "an unfinished line'); // line 3
  files['metadata.jsonl'] = `${lines.join('\n')}\n`;
  return files;
}

export const EXPECTED_JSONL = {
  taken: 4,
  skipped: { 'jsonl-parse-error': 1 },
  warnings: {} as Record<string, number>,
};
