// A two-image stored dataset ("a cat", "a dog") at `resolution`, for the tests of what persists it (IndexedDB,
// the project folder's dataset file, the fuzzed file reader).
import type { StoredDataset } from '../../src/worker/persistence';

type FilesDataset = Extract<StoredDataset, { kind: 'files' }>;

export function twoImageDataset(resolution: number, overrides: Partial<FilesDataset> = {}): FilesDataset {
  return {
    kind: 'files',
    name: 'photos',
    format: 'captions',
    resolution,
    ids: ['a.png', 'b.png'],
    paths: ['a.png', 'b.png'],
    captions: ['a cat', 'a dog'],
    rawCaptions: ['', ' a  dog'],
    sizes: Int32Array.from([64, 48, 32, 32]),
    images: Float32Array.from({ length: 2 * 3 * resolution * resolution }, (_, i) => (i % 7) / 7 - 0.5),
    report: { format: 'captions', formatReason: 'txt files', decoder: 'test', resolution: { width: resolution, height: resolution }, taken: ['a.png', 'b.png'], skipped: [], warnings: [] },
    ...overrides,
  };
}
