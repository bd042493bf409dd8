// Format 'captions': each image takes the caption of the same name in the same folder, `cat.png` <- `cat.txt`
// (or `cat.caption`; .txt wins when both exist). Two images of one name (cat.png, cat.jpg) would share one
// caption, which is almost always a mistake (an export next to its source), so both are skipped, not guessed.
import { decodeCaptionText } from './caption';
import { safeRead, type FileRef, type Inventory } from './inventory';
import { basename, comparePaths, extension, pathKey, stemPath } from './paths';
import type { ReportBuilder } from './report';
import type { PlannedImage } from './plan';

function groupByStem(files: FileRef[]): Map<string, FileRef[]> {
  const m = new Map<string, FileRef[]>();
  for (const f of files) {
    const k = pathKey(stemPath(f.path));
    const g = m.get(k);
    if (g) g.push(f);
    else m.set(k, [f]);
  }
  return m;
}

export async function planCaptions(inv: Inventory, report: ReportBuilder, onRead: () => void): Promise<PlannedImage[]> {
  const images = groupByStem(inv.images);
  const captions = groupByStem(inv.captions);
  const planned: PlannedImage[] = [];

  for (const [stem, caps] of captions) {
    caps.sort((a, b) => (extension(a.path) === 'txt' ? 0 : 1) - (extension(b.path) === 'txt' ? 0 : 1) || comparePaths(a.path, b.path));
    if (!images.has(stem)) {
      for (const c of caps) report.skip('caption-without-image', c.path, `no image named ${basename(stemPath(c.path))}.png/.jpg/.webp next to it`);
      continue;
    }
    for (const c of caps.slice(1)) report.skip('unused-file', c.path, `${basename(caps[0].path)} is used as the caption instead (.txt wins over .caption)`);
  }

  for (const [stem, imgs] of images) {
    const cap = captions.get(stem)?.[0];
    if (!cap) {
      for (const f of imgs) report.skip('no-caption', f.path, `no ${basename(stemPath(f.path))}.txt or .caption next to it`);
      continue;
    }
    if (imgs.length > 1) {
      const names = imgs.map((f) => basename(f.path)).join(', ');
      for (const f of imgs) report.skip('duplicate-basename', f.path, `${names} would all take the caption ${basename(cap.path)}`);
      continue;
    }
    const img = imgs[0];
    const r = await safeRead(cap.entry);
    onRead();
    if (!r.ok) {
      report.skip('unreadable-file', img.path, `its caption ${cap.path} could not be read: ${r.error}`);
      continue;
    }
    const { text, encoding } = decodeCaptionText(r.bytes);
    if (encoding !== 'utf-8') report.warn('caption-encoding', cap.path, 'not valid UTF-8; read as Windows-1252: check the accents, and save it as UTF-8');
    planned.push({ path: img.path, entry: img.entry, id: img.path, rawCaption: text, captionSource: cap.path });
  }
  return planned;
}
