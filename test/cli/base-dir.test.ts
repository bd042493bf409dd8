// A base bundle directory: model.json may only name files beside it (`../../x` was read before), and a named
// file that is missing is a clear error.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBaseFiles } from '../../src/cli/base-dir';
import { BASE_MODEL_FORMAT } from '../../src/io/base-model';
import { PRESETS } from '../../src/model/config';

const root = mkdtempSync(join(tmpdir(), 'soar-base-dir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function bundle(files: Record<string, string>): string {
  const dir = join(root, 'a', 'b', String(Math.random()).slice(2));
  mkdirSync(dir, { recursive: true });
  const manifest = { format: BASE_MODEL_FORMAT, id: 't', preset: 'tiny', config: PRESETS.tiny.config, meta: PRESETS.tiny.meta, files, transformer_hash: '' };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
  return dir;
}

describe('base bundle directory', () => {
  it('refuses file names that leave the bundle folder, though the file exists there', () => {
    const dir = bundle({ transformer: '../../x', text_encoder: 'text_encoder.safetensors' });
    writeFileSync(join(dir, '..', '..', 'x'), 'secret');
    expect(() => readBaseFiles(dir, 'make one')).toThrow(/model\.json\.files\.transformer is "\.\.\/\.\.\/x": a bundle names its files inside its own folder/);
  });

  it('reads the named files, and says which one is missing', () => {
    const dir = bundle({ transformer: 'transformer.safetensors', text_encoder: 'te.safetensors' });
    writeFileSync(join(dir, 'transformer.safetensors'), new Uint8Array([1, 2, 3]));
    expect(() => readBaseFiles(dir, 'make one')).toThrow(/te\.safetensors is missing: model\.json names it, so the bundle is incomplete/);
    writeFileSync(join(dir, 'te.safetensors'), new Uint8Array([4]));
    const f = readBaseFiles(dir, 'make one');
    expect(Array.from(f.transformer)).toEqual([1, 2, 3]);
    expect(Array.from(f.textEncoder)).toEqual([4]);
  });
});
