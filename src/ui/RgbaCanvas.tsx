// An RgbaImage (the worker's display format) on a canvas at its own resolution, shown upscaled with
// image-rendering: pixelated so an 8x8 sample stays an honest 8x8 grid of pixels.
import { useEffect, useRef } from 'react';
import type { RgbaImage } from '../worker/protocol';

interface Props {
  image: RgbaImage;
  /** CSS size of the longer side, px. */
  size?: number;
  title?: string;
  testId?: string;
}

export function RgbaCanvas({ image, size = 96, title, testId }: Props) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c || image.width <= 0 || image.height <= 0) return;
    c.width = image.width;
    c.height = image.height;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const expected = image.width * image.height * 4;
    if (image.rgba.length < expected) return; // malformed frame: leave the canvas blank rather than throw
    const pixels = new Uint8ClampedArray(image.rgba.buffer, image.rgba.byteOffset, expected);
    ctx.putImageData(new ImageData(new Uint8ClampedArray(pixels), image.width, image.height), 0, 0);
  }, [image]);
  const scale = size / Math.max(1, image.width, image.height);
  return (
    <canvas
      ref={ref}
      className="pixelated"
      width={image.width}
      height={image.height}
      style={{ width: Math.round(image.width * scale), height: Math.round(image.height * scale) }}
      title={title}
      data-testid={testId}
    />
  );
}
