import dns from 'node:dns';
import ipaddr from 'ipaddr.js';
import { GenieError } from '../../protocol/errors.js';

/**
 * SSRF defence for webhook targets: only http(s), and only hosts whose every address is public
 * unicast — unless the host is allow-listed (GENIE_WEBHOOK_ALLOW_HOSTS; `make dev` allows loopback).
 * The same check runs on the address actually connected to at delivery (DNS rebinding).
 */
export class WebhookUrlGuard {
  private readonly allowed: Set<string>;

  constructor(allowHosts: string[]) {
    this.allowed = new Set(allowHosts.map((h) => h.toLowerCase().replace(/^\[|\]$/g, '')));
  }

  isAllowedHost(host: string): boolean {
    return this.allowed.has(host.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  /** Whether an address may be contacted; allow-listed addresses pass whatever their range. */
  isAllowedAddress(address: string): boolean {
    if (this.isAllowedHost(address)) return true;
    if (!ipaddr.isValid(address)) return false;
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    // 'unicast' is ipaddr.js's name for everything outside the special ranges (private, loopback,
    // link-local incl. 169.254.169.254 metadata, unique-local, CGNAT, reserved, multicast…).
    return parsed.range() === 'unicast';
  }

  /** Request-time check: refuses with a 400 naming `webhook.url`. */
  async assertAllowed(rawUrl: string): Promise<void> {
    const refuse = (why: string) => {
      throw GenieError.badRequest(`webhook.url refused: ${why}`, 'webhook.url', 'invalid_webhook_url');
    };
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      return refuse('not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return refuse('only http and https are allowed');
    if (url.username || url.password) return refuse('credentials in the URL are not allowed');
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (this.isAllowedHost(host)) return;
    let addresses: string[];
    try {
      addresses = ipaddr.isValid(host) ? [host] : (await dns.promises.lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return refuse(`host ${host} does not resolve`);
    }
    const blocked = addresses.find((a) => !this.isAllowedAddress(a));
    if (blocked) refuse(`${host} resolves to a private, loopback, link-local or reserved address (${blocked})`);
  }

  /** A dns.lookup for the HTTP client that refuses disallowed addresses at connect time. */
  lookup(): typeof dns.lookup {
    const guarded = (hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
      dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err);
        const list = addresses as dns.LookupAddress[];
        const ok = this.isAllowedHost(hostname) ? list : list.filter((a) => this.isAllowedAddress(a.address));
        if (ok.length === 0) {
          const e = Object.assign(new Error(`webhook host ${hostname} resolves only to disallowed addresses`), { code: 'EWEBHOOKBLOCKED' });
          return callback(e);
        }
        if (options.all) return callback(null, ok);
        callback(null, ok[0].address, ok[0].family);
      });
    };
    return guarded as unknown as typeof dns.lookup;
  }
}
