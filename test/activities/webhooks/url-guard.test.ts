import { mkdtempSync, writeFileSync } from 'node:fs';
import type { LookupAddress } from 'node:dns';
import os from 'node:os';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { HostResolver } from '../../../activities/webhooks/host-resolver.js';
import { WebhookUrlGuard } from '../../../activities/webhooks/url-guard.js';
import { signWebhook } from '../../../activities/webhooks/sign.js';
import { startDnsServer } from '../../support/dns-server.js';

// Names answered by a real DNS server on loopback; nothing here connects anywhere (lookups only).
const PUBLIC = '93.184.216.34';
let dns: Awaited<ReturnType<typeof startDnsServer>>;
let hostsFile: string;

beforeAll(async () => {
  dns = await startDnsServer(({ name, n }) => {
    if (name === 'public.test') return [PUBLIC, '2606:4700::1111'];
    if (name === 'mixed.test') return [PUBLIC, '10.0.0.5', 'fd00::5'];
    if (name === 'private.test') return ['192.168.7.7'];
    // DNS rebinding: public for the request-time check, loopback for every lookup after it.
    if (name.startsWith('rebind')) return n === 0 ? [PUBLIC] : ['127.0.0.1', '::1'];
    return null;
  });
  hostsFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'genie-hosts-')), 'hosts');
  writeFileSync(hostsFile, '# hosts(5)\n127.0.0.1\tlocalhost\n::1 localhost ip6-localhost # both families\n10.9.8.7 intranet.example\n');
});
afterAll(() => dns?.close());

const guardWith = (allowHosts: string[] = []) =>
  new WebhookUrlGuard({ allowHosts, resolver: new HostResolver({ servers: [dns.server], timeoutMs: 3000, concurrency: 8, hostsFile }) });

/** The guard's connect-time lookup, as the HTTP client calls it. */
const lookup = (guard: WebhookUrlGuard, host: string, options: { all?: boolean; family?: number } = {}) =>
  new Promise<string | LookupAddress[]>((resolve, reject) =>
    guard.lookup()(host, options, (e, address) => (e ? reject(e) : resolve(address))),
  );

describe('webhook URL guard', () => {
  const guard = () => guardWith();

  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::7f00:1', 'fec0::1', '64:ff9b::7f00:1', '2002:7f00:1::', '224.0.0.1', '255.255.255.255'])(
    'refuses the address %s',
    (a) => expect(guard().isAllowedAddress(a)).toBe(false),
  );
  it.each([PUBLIC, '2606:4700::1111', '::ffff:8.8.8.8'])('allows the public address %s', (a) => expect(guard().isAllowedAddress(a)).toBe(true));

  it.each([
    ['http://127.0.0.1/', 'loopback'],
    ['http://2130706433/', 'loopback as one decimal number'],
    ['http://0x7f000001/', 'loopback in hex'],
    ['http://0177.0.0.1/', 'loopback in octal'],
    ['http://127.1/', 'loopback, short form'],
    ['http://[::ffff:127.0.0.1]/', 'IPv4-mapped IPv6 loopback'],
    ['http://[::ffff:7f00:1]/', 'IPv4-mapped IPv6 loopback, hex'],
    ['http://[::127.0.0.1]/', 'IPv4-compatible IPv6 loopback'],
    ['http://[::1]/', 'IPv6 loopback'],
    ['http://0.0.0.0/', 'the unspecified address (reaches loopback on Linux)'],
    ['http://0/', 'the unspecified address, short form'],
    ['http://[::]/', 'the IPv6 unspecified address'],
    ['http://[fc00::1]/', 'unique-local IPv6 (fc00::/7)'],
    ['http://[fd00:ec2::254]/', 'unique-local IPv6 (a cloud metadata endpoint)'],
    ['http://[fe80::1]/', 'link-local IPv6'],
    ['http://169.254.169.254/latest/meta-data', 'link-local IPv4 (cloud metadata)'],
    ['http://[::ffff:169.254.169.254]/', 'IPv4-mapped link-local'],
    ['http://10.1.2.3/', 'private'],
    ['http://100.64.0.1/', 'carrier-grade NAT'],
    ['http://localhost/', 'localhost'],
    ['http://api.localhost/', 'a subdomain of localhost (RFC 6761)'],
    ['http://intranet.example/', 'a private address from the hosts file'],
    ['http://private.test/', 'a name resolving to a private address'],
    ['http://mixed.test/', 'a name resolving to a public and a private address'],
    ['http://nowhere.test/', 'a name that does not resolve'],
    ['ftp://public.test/', 'a scheme other than http(s)'],
    ['https://user:pw@public.test/', 'credentials in the URL'],
  ])('refuses %s (%s) with a 400 naming webhook.url', async (url) => {
    await expect(guard().assertAllowed(url)).rejects.toMatchObject({ body: { param: 'webhook.url', code: 'invalid_webhook_url' } });
  });

  it.each(['https://public.test/hook', `http://${PUBLIC}:8080/hook`, 'https://[2606:4700::1111]/hook'])('allows %s', async (url) => {
    await expect(guard().assertAllowed(url)).resolves.toBeUndefined();
  });

  it('allows an allow-listed host whatever it resolves to', async () => {
    await expect(guardWith(['localhost', 'private.test', '::1']).assertAllowed('http://localhost:9/')).resolves.toBeUndefined();
    await expect(guardWith(['private.test']).assertAllowed('http://private.test/')).resolves.toBeUndefined();
    await expect(guardWith(['::1']).assertAllowed('http://[::1]:9/')).resolves.toBeUndefined();
  });

  it('checks the address resolved at connect time: a name rebound to loopback after the request-time check is refused', async () => {
    const g = guard();
    const name = `rebind-${Math.random().toString(36).slice(2)}.test`;
    await expect(g.assertAllowed(`http://${name}/hook`)).resolves.toBeUndefined();
    await expect(lookup(g, name)).rejects.toMatchObject({ code: 'EWEBHOOKBLOCKED' });
    await expect(lookup(g, name, { all: true })).rejects.toMatchObject({ code: 'EWEBHOOKBLOCKED' });
  });

  it('connects only to the allowed addresses of a name that has both kinds, in the family asked for', async () => {
    const g = guard();
    await expect(lookup(g, 'mixed.test', { all: true })).resolves.toEqual([{ address: PUBLIC, family: 4 }]);
    await expect(lookup(g, 'mixed.test')).resolves.toBe(PUBLIC);
    await expect(lookup(g, 'public.test', { family: 6 })).resolves.toBe('2606:4700::1111');
    await expect(lookup(g, 'mixed.test', { family: 6 })).rejects.toMatchObject({ code: 'EWEBHOOKBLOCKED' });
  });

  it('answers names of the hosts file without DNS, and refuses them unless allow-listed', async () => {
    const before = dns.queries.length;
    await expect(lookup(guard(), 'localhost')).rejects.toMatchObject({ code: 'EWEBHOOKBLOCKED' });
    await expect(lookup(guardWith(['localhost']), 'localhost', { all: true })).resolves.toEqual([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    await expect(lookup(guardWith(['intranet.example']), 'INTRANET.example.')).resolves.toBe('10.9.8.7');
    expect(dns.queries.length).toBe(before);
  });

  it('passes a DNS failure through as the lookup error', async () => {
    await expect(lookup(guard(), 'nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('webhook signatures', () => {
  it('signs the exact body bytes with the UTF-8 secret and Standard Webhooks’ scheme', () => {
    const body = '{"a":"é"}';
    const headers = signWebhook({ secret: 's3cret-ümlaut', msgId: 'chatcmpl-x', body, at: new Date() });
    expect(headers['x-genie-signature']).toBe(`sha256=${createHmac('sha256', Buffer.from('s3cret-ümlaut', 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex')}`);
    expect(new Webhook('s3cret-ümlaut', { format: 'raw' }).verify(body, headers)).toEqual({ a: 'é' });
    expect(() => new Webhook('another-secret', { format: 'raw' }).verify(body, headers)).toThrow();
  });
});
