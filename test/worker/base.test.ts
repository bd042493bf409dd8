// The studio's base: the shipped one from /models/<preset>/ when the server has it, a deterministic random one
// when it answers 404 or with the dev server's index.html fallback; clear errors for broken files.
import { describe, expect, it } from 'vitest';
import { builtinVocabulary } from '../../src/encode/builtin-vocab';
import { randomBase, saveBase } from '../../src/io/base-runtime';
import { BaseLoadError, fetchShippedBase, loadStudioBase, releaseBase, type Fetch } from '../../src/worker/base';
import { getEngine } from '../tensor/harness';

/** A same-origin server holding `files` (path -> body); anything else is the SPA fallback or a 404. */
function server(files: Record<string, string | Uint8Array>, fallback: 'html' | '404'): Fetch & { asked: string[] } {
  const asked: string[] = [];
  const f = async (url: string) => {
    asked.push(url);
    const body = files[url];
    if (body !== undefined) return new Response(typeof body === 'string' ? body : new Uint8Array(body), { status: 200 });
    if (fallback === 'html') return new Response('<!doctype html><html></html>', { status: 200, headers: { 'content-type': 'text/html' } });
    return new Response('not found', { status: 404 });
  };
  return Object.assign(f, { asked });
}

describe('studio base', () => {
  it('falls back to the random base (seed 1) on a 404 or an index.html fallback, and names the preset list', async () => {
    const e = await getEngine();
    expect(await fetchShippedBase(server({}, '404'), 'tiny')).toBeNull();
    expect(await fetchShippedBase(server({}, 'html'), 'tiny')).toBeNull();
    expect(await fetchShippedBase(async () => Promise.reject(new TypeError('offline')), 'tiny')).toBeNull();
    const s = server({}, 'html');
    const b = await loadStudioBase(e, 'tiny', s);
    expect(s.asked).toEqual(['/models/tiny/model.json']);
    expect(b.info).toMatchObject({ id: 'tiny-random-1', preset: 'tiny', source: 'random', resolution: 8, trainable: true });
    expect(b.info.parameters).toBeGreaterThan(1000);
    releaseBase(b.base);
    await expect(loadStudioBase(e, 'huge', null)).rejects.toThrow(BaseLoadError);
    await expect(loadStudioBase(e, 'huge', null)).rejects.toMatchObject({ advice: expect.stringMatching(/tiny/) });
  });

  it('loads the shipped base when the server has one, and refuses a damaged one with advice', async () => {
    const e = await getEngine();
    const made = randomBase(e, 'tiny', builtinVocabulary(8), 5);
    const files = await saveBase(made, 'tiny-shipped', 'test');
    releaseBase(made);
    const root = '/models/tiny/';
    const good = server({ [`${root}model.json`]: files.manifest, [`${root}transformer.safetensors`]: files.transformer, [`${root}text_encoder.safetensors`]: files.textEncoder }, '404');
    const b = await loadStudioBase(e, 'tiny', good);
    expect(b.info).toMatchObject({ id: 'tiny-shipped', source: 'builtin', preset: 'tiny' });
    releaseBase(b.base);
    const cut = server({ [`${root}model.json`]: files.manifest, [`${root}transformer.safetensors`]: files.transformer.subarray(0, 100), [`${root}text_encoder.safetensors`]: files.textEncoder }, '404');
    await expect(loadStudioBase(e, 'tiny', cut)).rejects.toMatchObject({ name: 'BaseLoadError', advice: expect.stringMatching(/Reload/) });
    const missing = server({ [`${root}model.json`]: files.manifest }, '404');
    await expect(loadStudioBase(e, 'tiny', missing)).rejects.toThrow(/could not be downloaded \(HTTP 404\)/);
    // A manifest naming a path outside its folder is refused before anything is fetched by that name.
    const manifest = JSON.parse(files.manifest) as { files: Record<string, string> };
    manifest.files.transformer = '../../secret.bin';
    const escaping = server({ [`${root}model.json`]: JSON.stringify(manifest) }, '404');
    await expect(loadStudioBase(e, 'tiny', escaping)).rejects.toMatchObject({ name: 'BaseLoadError', message: expect.stringMatching(/model\.json is damaged/) });
    expect(escaping.asked).toEqual([`${root}model.json`]);
  });
});
