// Imports run one way between the layers README lists. The pure codecs (src/codec) import nothing from the
// project, so every layer may use them; the model-aware file formats (src/io) sit above model/, encode/ and
// train/, so none of the layers below them may import them.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(__dirname, '../..');
const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|tsx)$/.test(name) ? [p] : [];
  });
}

/** The project layers (top folder under src/) each file of `layer` imports, with the importing lines. */
function importsOf(layer: string): Array<{ file: string; target: string; line: string }> {
  const out: Array<{ file: string; target: string; line: string }> = [];
  for (const file of sources(join(SRC, layer))) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const m = /^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/.exec(line);
      const spec = m?.[1] ?? m?.[2];
      if (!spec) continue;
      const target = relative(SRC, resolve(dirname(file), spec)).split('/')[0];
      if (target !== layer) out.push({ file: relative(ROOT, file), target, line: line.trim() });
    }
  }
  return out;
}

describe('layering', () => {
  it('src/codec imports nothing from the project (shaders and npm packages aside)', () => {
    expect(importsOf('codec').filter((i) => !i.target.startsWith('..'))).toEqual([]);
  });

  it('no layer below src/io imports it', () => {
    const below = ['codec', 'gpu', 'tensor', 'model', 'encode', 'train', 'sample', 'data', 'eval'];
    const offending = below.flatMap((l) => importsOf(l).filter((i) => i.target === 'io'));
    expect(offending).toEqual([]);
  });

  it('methods are reached through their registry, and a method module reaches nothing above the training loop', () => {
    const methodsDir = join(SRC, 'train', 'methods');
    const allowed = new Set(['index', 'catalog', 'method'].map((n) => join(methodsDir, `${n}.ts`)));
    const viaRegistry: string[] = [];
    for (const file of sources(SRC).filter((f) => !f.startsWith(methodsDir + '/'))) {
      for (const spec of importSpecs(file)) {
        const target = resolve(dirname(file), spec);
        const asFile = target.endsWith('.ts') ? target : `${target}.ts`;
        if (target === methodsDir) continue; // the folder's index
        if (asFile.startsWith(methodsDir + '/') && !allowed.has(asFile)) viaRegistry.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(viaRegistry).toEqual([]);
    const upward = sources(methodsDir).flatMap((file) =>
      importSpecs(file)
        .map((spec) => relative(SRC, resolve(dirname(file), spec)))
        .filter((t) => /^(worker|ui|store|cli|io)\//.test(t) || t === 'train/trainer')
        .map((t) => `${relative(ROOT, file)} imports ${t}`),
    );
    expect(upward).toEqual([]);
  });
});

/** The relative module specifiers a file imports or re-exports. */
function importSpecs(file: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/.exec(line);
    if (m) out.push(m[1]);
  }
  return out;
}
