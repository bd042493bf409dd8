// The key-value seam of the studio's persistence: IndexedDB through idb-keyval in the browser (and in Node tests
// over fake-indexeddb, a real IndexedDB implementation). Values are structured clones, so Float32Arrays and
// Uint8Arrays are stored as binary, not as JSON.
import { createStore, del, get, keys, set, type UseStore } from 'idb-keyval';
import type { KernelCache } from '../tensor/tuning';

export interface KeyValueStore {
  get<T>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** The database and object store the studio uses (not idb-keyval's shared default, so a clear is ours alone). */
export const STUDIO_DB = 'soar-studio';
export const STUDIO_STORE = 'state';

export function idbStore(db = STUDIO_DB, store = STUDIO_STORE): KeyValueStore {
  let handle: UseStore | null = null;
  const s = () => (handle ??= createStore(db, store));
  return {
    get: <T>(key: string) => get<T>(key, s()),
    set: (key, value) => set(key, value, s()),
    del: (key) => del(key, s()),
    keys: async () => (await keys(s())).map(String),
  };
}

/** The kernel autotuner's cache (src/tensor/tuning.ts) in the studio's store: one entry per adapter. */
export function kvKernelCache(kv: KeyValueStore): KernelCache {
  return { load: (key) => kv.get(`kernels:${key}`), save: (key, value) => kv.set(`kernels:${key}`, value) };
}
