// safetensors read piece by piece: the 8-byte header length and the JSON header first, then each tensor's bytes
// only when it is asked for. A full fine-tuned SD3.5-Medium transformer is ~5 GB: Node's readFileSync refuses
// files over 2 GiB and a browser tab must not hold it whole, yet extracting a LoRA needs only the targeted
// modules, one at a time. The header is checked exactly as the whole-file reader checks it (parseHeader), and
// tensors are decoded by the same code (decodeTensor), so both readers agree on every file.
import { decodeTensor, MAX_HEADER_BYTES, parseHeader, SafetensorsError, type HeaderEntry, type LoadedTensor, type SafetensorsHeader } from './safetensors';
import { show } from './json';

/** Random access to a file's bytes: Node (src/io/node-byte-source.ts) or a browser File/Blob (blobSource). */
export interface ByteSource {
  /** For messages: the file's name or path. */
  readonly name: string;
  readonly size: number;
  /** Bytes [begin, end); fewer only when the file shrank since it was opened. */
  read(begin: number, end: number): Promise<Uint8Array>;
}

/** A browser File or Blob: Blob.slice(...).arrayBuffer() reads just that range from disk. */
export function blobSource(blob: Blob, name = (blob as Partial<File>).name ?? 'blob'): ByteSource {
  return {
    name,
    size: blob.size,
    read: async (begin, end) => new Uint8Array(await blob.slice(begin, end).arrayBuffer()),
  };
}

/** In-memory bytes as a source (tests, and files already read whole). */
export function bytesSource(bytes: Uint8Array, name = 'bytes'): ByteSource {
  return { name, size: bytes.byteLength, read: async (begin, end) => bytes.subarray(begin, Math.min(end, bytes.byteLength)) };
}

/** Prefixes a reader's message with the file it is about, keeping the error's class. */
function inFile(source: ByteSource, e: unknown): Error {
  if (e instanceof SafetensorsError) return new SafetensorsError(`${source.name}: ${e.message}`);
  return e instanceof Error ? e : new Error(String(e));
}

export class ChunkedSafetensors {
  private readonly byName: Map<string, HeaderEntry>;

  private constructor(
    readonly source: ByteSource,
    readonly header: SafetensorsHeader,
  ) {
    this.byName = new Map(header.entries.map((e) => [e.name, e]));
  }

  /** Reads and validates the header only (two small reads). */
  static async open(source: ByteSource): Promise<ChunkedSafetensors> {
    try {
      if (source.size < 8) throw new SafetensorsError(`file too short (${source.size} bytes): a safetensors file starts with an 8-byte header length`);
      const prefix = await source.read(0, 8);
      if (prefix.byteLength < 8) throw new SafetensorsError('the file could not be read (it shrank while open?)');
      const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
      // Checked before the header is read: a garbage length must not make us read gigabytes.
      if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit: not a safetensors file, or corrupt`);
      const end = Math.min(8 + Number(n), source.size);
      const head = await source.read(0, end);
      return new ChunkedSafetensors(source, parseHeader(head, source.size));
    } catch (e) {
      throw inFile(source, e);
    }
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  entry(name: string): HeaderEntry | undefined {
    return this.byName.get(name);
  }

  /** One tensor's bytes, read now and decoded to float32 (F16 and BF16 widened). */
  async read(name: string): Promise<LoadedTensor> {
    const e = this.byName.get(name);
    if (!e) throw new SafetensorsError(`${this.source.name}: there is no tensor ${show(name)}`);
    try {
      const bytes = await this.source.read(e.begin, e.end);
      if (bytes.byteLength !== e.end - e.begin) throw new SafetensorsError(`tensor ${show(name)}: data is truncated (the file shrank since it was opened?)`);
      return decodeTensor({ ...e, begin: 0, end: bytes.byteLength }, bytes);
    } catch (err) {
      throw inFile(this.source, err);
    }
  }
}
