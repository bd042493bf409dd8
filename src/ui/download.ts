// Downloads from the page: a Blob behind an <a download>, the only way a web page can hand a file to the user
// without a server. The object URL is revoked a little later (Chrome reads it asynchronously after the click).
export function downloadBytes(fileName: string, mime: string, bytes: ArrayBuffer | Uint8Array | string): void {
  const blob = new Blob([bytes as BlobPart], { type: mime || 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
