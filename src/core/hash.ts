/** FNV-1a over the UTF-16 code units of `text`, as an unsigned 32-bit number: a fixed, evenly spread hash of a key. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
