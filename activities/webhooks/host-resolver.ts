import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import pLimit, { type LimitFunction } from 'p-limit';
import { readHostsFile } from './hosts-file.js';

export interface HostResolverOptions {
  /** DNS servers (`ip`, `ip:port`, `[ipv6]:port`); none: the system's, from resolv.conf. */
  servers: string[];
  /** The longest one resolution may take, its wait for a free slot included. */
  timeoutMs: number;
  /** Resolutions in flight at once; the rest wait, within their own timeout. */
  concurrency: number;
  /** Consulted before DNS, as the system's resolver does; default /etc/hosts. */
  hostsFile?: string;
}

/**
 * Resolves webhook hosts: names a caller chose, so possibly slow on purpose. `dns.lookup` would run
 * getaddrinfo on libuv's thread pool (4 threads shared with fs, crypto and zlib, and no timeout), so a
 * few slow domains would stall the whole process. c-ares (`dns.Resolver`) runs on the event loop and
 * takes a timeout; the limiter bounds how many resolutions run at once, and every caller's deadline
 * covers its wait for a slot too, so nobody waits longer than `timeoutMs` however busy the slots are.
 * No cache: the connect-time check must see what the name resolves to now (DNS rebinding).
 */
export class HostResolver {
  private readonly dns: dns.Resolver;
  private readonly limit: LimitFunction;
  private readonly hosts: Map<string, string[]>;

  constructor(private readonly opts: HostResolverOptions) {
    // Two tries, so one lost UDP packet does not fail a webhook. c-ares waits longer on each retry
    // (a quarter of the deadline per first try ended both at ≈ 0.85 × the deadline, measured with
    // c-ares 1.34), so its own timeout fires before ours and leaves no query behind.
    this.dns = new dns.Resolver({ timeout: Math.max(1, Math.ceil(opts.timeoutMs / 4)), tries: 2 });
    if (opts.servers.length > 0) this.dns.setServers(opts.servers);
    this.limit = pLimit(opts.concurrency);
    this.hosts = readHostsFile(opts.hostsFile);
  }

  /** Every address of `host`, IPv4 first; rejects with a DNS error code (ENOTFOUND, ETIMEOUT, …). */
  async resolve(host: string): Promise<string[]> {
    const name = host.toLowerCase().replace(/\.$/, '');
    if (isIP(name)) return [name];
    const listed = this.hosts.get(name);
    if (listed) return listed;
    // RFC 6761: localhost and its subdomains are loopback, whatever a DNS server answers.
    if (name === 'localhost' || name.endsWith('.localhost')) return ['127.0.0.1', '::1'];
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    return beforeDeadline(deadline, name, () => this.limit(() => beforeDeadline(deadline, name, () => this.query(name))));
  }

  private async query(name: string): Promise<string[]> {
    const [v4, v6] = await Promise.allSettled([this.dns.resolve4(name), this.dns.resolve6(name)]);
    const found = [v4, v6].flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    if (found.length > 0) return found;
    throw v4.status === 'rejected' ? v4.reason : v6.status === 'rejected' ? v6.reason : dnsError('ENODATA', name);
  }
}

/** `run()` unless the deadline has passed; its outcome, or ETIMEOUT once the deadline passes first. */
function beforeDeadline<T>(deadline: AbortSignal, name: string, run: () => Promise<T>): Promise<T> {
  if (deadline.aborted) return Promise.reject(dnsError('ETIMEOUT', name));
  return new Promise<T>((resolve, reject) => {
    const expire = () => reject(dnsError('ETIMEOUT', name));
    deadline.addEventListener('abort', expire, { once: true });
    run()
      .then(resolve, reject)
      .finally(() => deadline.removeEventListener('abort', expire));
  });
}

function dnsError(code: string, hostname: string): Error {
  return Object.assign(new Error(`${code} resolving ${hostname}`), { code, hostname });
}
