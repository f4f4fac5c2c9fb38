import { splitLines } from '../../activities/batches/validate-batch.js';

// A batch's input file is validated as it streams out of Postgres in chunks: lines and UTF-8 characters
// straddle chunk boundaries, and a line too long for any request is not accumulated.

async function* pieces(text: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < text.length; i += size) yield text.subarray(i, i + size);
}
const collect = async (text: string, size: number, max = 1 << 20) => {
  const out: Array<string | null> = [];
  for await (const l of splitLines(pieces(Buffer.from(text), size), max)) out.push(l);
  return out;
};

describe('splitLines', () => {
  it('gives the same lines whatever the chunk size, multi-byte characters split across chunks included', async () => {
    const text = '{"a": "é日本"}\n{"b": "🙂"}\r\n\nlast';
    for (const size of [1, 2, 3, 5, 7, 64]) expect(await collect(text, size)).toEqual(['{"a": "é日本"}', '{"b": "🙂"}\r', '', 'last']);
  });

  it('makes no empty line of the newline ending the file, and none of an empty file', async () => {
    expect(await collect('a\nb\n', 1)).toEqual(['a', 'b']);
    expect(await collect('', 4)).toEqual([]);
  });

  it('yields null for a line longer than the limit, without holding it, and goes on after it', async () => {
    expect(await collect(`ok\n${'x'.repeat(100)}\nafter\n`, 8, 32)).toEqual(['ok', null, 'after']);
    expect(await collect(`ok\n${'x'.repeat(100)}`, 8, 32)).toEqual(['ok', null]);
  });
});
