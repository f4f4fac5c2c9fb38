import type dns from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { GenieError } from '../../protocol/errors.js';
import type { HostResolver } from './host-resolver.js';

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/**
 * SSRF defence for webhook targets: only http(s), and only hosts whose every address is public
 * unicast — unless the host is allow-listed (GENIE_WEBHOOK_ALLOW_HOSTS; `make dev` allows loopback).
 * The same check runs on the address actually connected to at delivery (DNS rebinding), which is why
 * the HTTP client must never follow a redirect: a literal IP in a Location header is connected to
 * without any lookup, so no lookup-time check would see it.
 */
export class WebhookUrlGuard {
  private readonly allowed: Set<string>;
  private readonly resolver: HostResolver;

  constructor(opts: { allowHosts: string[]; resolver: HostResolver }) {
    this.allowed = new Set(opts.allowHosts.map(canonicalHost));
    this.resolver = opts.resolver;
  }

  isAllowedHost(host: string): boolean {
    return this.allowed.has(canonicalHost(host));
  }

  /** Whether an address may be contacted; allow-listed addresses pass whatever their range. */
  isAllowedAddress(address: string): boolean {
    if (this.isAllowedHost(address)) return true;
    if (!ipaddr.isValid(address)) return false;
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    // 'unicast' is ipaddr.js's name for everything outside the special ranges (private, loopback,
    // link-local incl. 169.254.169.254 metadata, unique-local, CGNAT, reserved, multicast…). For IPv6
    // that is not enough: it also calls the deprecated IPv4-compatible (::127.0.0.1) and site-local
    // (fec0::/10) forms and unassigned space unicast, so only global unicast (2000::/3) passes.
    if (parsed.range() !== 'unicast') return false;
    return parsed.kind() === 'ipv4' || (parsed as ipaddr.IPv6).match(GLOBAL_UNICAST_V6);
  }

  /** Request-time check: refuses with a 400 naming `webhook.url`. */
  async assertAllowed(rawUrl: string): Promise<void> {
    const refuse = (why: string) => {
      throw GenieError.badRequest(`webhook.url refused: ${why}`, 'webhook.url', 'invalid_webhook_url');
    };
    let url: URL;
    try {
      // WHATWG parsing also canonicalizes every IPv4 spelling (2130706433, 0x7f000001, 0177.0.0.1) to
      // dotted decimal and IPv6 to its compressed form, so the checks below see one form of each.
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
      addresses = await this.resolver.resolve(host);
    } catch (e) {
      return refuse(`host ${host} does not resolve (${(e as { code?: string }).code ?? 'error'})`);
    }
    const blocked = addresses.find((a) => !this.isAllowedAddress(a));
    if (blocked) refuse(`${host} resolves to a private, loopback, link-local or reserved address (${blocked})`);
  }

  /** A dns.lookup for the HTTP client that refuses disallowed addresses at connect time. */
  lookup(): LookupFunction {
    return (hostname, options, callback) => {
      this.resolver.resolve(hostname).then(
        (addresses) => {
          const allowed = this.isAllowedHost(hostname) ? addresses : addresses.filter((a) => this.isAllowedAddress(a));
          const family = familyOf(options);
          const usable = allowed.filter((a) => family === 0 || isIP(a) === family);
          if (usable.length === 0) {
            const why = allowed.length === 0 ? 'resolves only to disallowed addresses' : `has no allowed IPv${family} address`;
            return callback(Object.assign(new Error(`webhook host ${hostname} ${why}`), { code: 'EWEBHOOKBLOCKED' }), '', 0);
          }
          if (options.all) return callback(null, usable.map((address) => ({ address, family: isIP(address) })));
          callback(null, usable[0], isIP(usable[0]));
        },
        (e: NodeJS.ErrnoException) => callback(e, '', 0),
      );
    };
  }
}

/** `Example.COM.` and `example.com` are one host, and so are `[::1]` and `::1`. */
function canonicalHost(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}

function familyOf(options: dns.LookupOptions): 0 | 4 | 6 {
  const f = options.family;
  return f === 4 || f === 'IPv4' ? 4 : f === 6 || f === 'IPv6' ? 6 : 0;
}
