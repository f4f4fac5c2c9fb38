import { pbkdf2 } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { HostResolver } from '../../../activities/webhooks/host-resolver.js';
import { startDnsServer } from '../../support/dns-server.js';

// Webhook hostnames are chosen by callers, so some resolve slowly or never, on purpose. The resolver
// must give up on them in time without holding anything the rest of the process needs (libuv's
// thread pool, which dns.lookup would use), and bound how many resolutions it runs at once.

const until = async (predicate: () => boolean, what: string, timeoutMs = 10_000) => {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`not met in ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('webhook host resolver', () => {
  /** Names answered with a latency the server applies (slow-*), never (hang-*), or at once. */
  const outstanding = new Map<string, number>();
  let maxOutstanding = 0;
  let dns: Awaited<ReturnType<typeof startDnsServer>>;
  beforeAll(async () => {
    dns = await startDnsServer(async ({ name }) => {
      if (name.startsWith('hang-')) return 'hang';
      if (name.startsWith('slow-')) {
        outstanding.set(name, (outstanding.get(name) ?? 0) + 1);
        maxOutstanding = Math.max(maxOutstanding, outstanding.size);
        await new Promise((r) => setTimeout(r, 150)); // the server's latency, not a wait of the test
        const left = outstanding.get(name)! - 1;
        if (left === 0) outstanding.delete(name);
        else outstanding.set(name, left);
        return ['93.184.216.34'];
      }
      return name === 'fast.test' ? ['93.184.216.35'] : null;
    });
  });
  afterAll(() => dns?.close());

  it('resolves through the configured DNS server, NXDOMAIN as ENOTFOUND', async () => {
    const resolver = new HostResolver({ servers: [dns.server], timeoutMs: 3000, concurrency: 4 });
    await expect(resolver.resolve('fast.test')).resolves.toEqual(['93.184.216.35']);
    await expect(resolver.resolve('nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(resolver.resolve('93.184.216.36')).resolves.toEqual(['93.184.216.36']);
  });

  it('names that never answer time out, and while they hang other names and the thread pool are served', async () => {
    const resolver = new HostResolver({ servers: [dns.server], timeoutMs: 4000, concurrency: 32 });
    let settled = 0;
    const hanging = Array.from({ length: 20 }, (_, i) =>
      resolver.resolve(`hang-${i}.test`).then(
        () => 'resolved',
        (e: { code?: string }) => e.code,
      ).finally(() => settled++),
    );
    await until(() => new Set(dns.queries.filter((q) => q.name.startsWith('hang-')).map((q) => q.name)).size === 20, 'all 20 hanging names asked');
    // 20 blocking getaddrinfo calls would hold libuv's 4 threads: neither of these would finish.
    await expect(resolver.resolve('fast.test')).resolves.toEqual(['93.184.216.35']);
    await readFile('/etc/hosts');
    await promisify(pbkdf2)('x', 'y', 1, 32, 'sha256');
    expect(settled).toBe(0);
    expect(await Promise.all(hanging)).toEqual(Array(20).fill('ETIMEOUT'));
  });

  it('runs at most `concurrency` resolutions at once; the others wait for a slot and are answered', async () => {
    const resolver = new HostResolver({ servers: [dns.server], timeoutMs: 10_000, concurrency: 2 });
    maxOutstanding = 0;
    const names = Array.from({ length: 6 }, (_, i) => `slow-${i}.test`);
    await expect(Promise.all(names.map((n) => resolver.resolve(n)))).resolves.toEqual(Array(6).fill(['93.184.216.34']));
    // Each name is asked (A and AAAA) only once a slot is free, so the server never holds more than two.
    expect(maxOutstanding).toBe(2);
  });
});
