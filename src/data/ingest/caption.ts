// Caption text: decoding caption files, normalising, and the reference trainer's JSON-string captions.

/** Trimmed, every whitespace run (newlines and tabs included) collapsed to one space: what the trainer sees. */
export function normalizeCaption(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Decodes a caption file. UTF-8 (a BOM is dropped); a file that is not valid UTF-8 was most likely written by an
 * old Windows tool, so it is read as Windows-1252 and flagged rather than filled with U+FFFD.
 */
export function decodeCaptionText(bytes: Uint8Array): { text: string; encoding: 'utf-8' | 'windows-1252' } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: new TextDecoder('windows-1252').decode(bytes), encoding: 'windows-1252' };
  }
}

/** The reference trainer's order of preference among the keys of a JSON caption. */
export const REFERENCE_CAPTION_KEYS = ['long_caption', 'medium_caption', 'short_caption', 'text'] as const;

export type ReferenceCaption = { ok: true; text: string; key?: string } | { ok: false; problem: string };

/**
 * `caption_en` of a reference JSONL row: a plain string, or a JSON object (usually itself stored as a string)
 * from which the first present of long_caption, medium_caption, short_caption, text is taken, like the reference.
 * A string that looks like JSON but does not parse is a plain caption.
 */
export function pickReferenceCaption(value: unknown): ReferenceCaption {
  let v = value;
  if (typeof v === 'string') {
    const s = v.trim();
    if (!s.startsWith('{')) return { ok: true, text: v };
    try {
      v = JSON.parse(s);
    } catch {
      return { ok: true, text: v as string };
    }
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const key of REFERENCE_CAPTION_KEYS) if (typeof o[key] === 'string') return { ok: true, text: o[key] as string, key };
    return { ok: false, problem: `caption_en is a JSON object without any of ${REFERENCE_CAPTION_KEYS.join(', ')} (keys: ${Object.keys(o).join(', ') || 'none'})` };
  }
  return { ok: false, problem: `caption_en is ${v === null ? 'null' : typeof v}, expected a string` };
}
