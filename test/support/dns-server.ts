import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import dns2 from 'dns2';

const { Packet } = dns2;

export interface DnsQuery {
  name: string;
  type: 'A' | 'AAAA' | 'other';
  at: number;
}

/**
 * What to answer for a query: addresses (of the query's family; the rest are dropped), `null` for
 * NXDOMAIN, 'hang' to never answer. `n` counts earlier queries of the same name and type.
 */
export type DnsAnswer = (q: { name: string; type: DnsQuery['type']; n: number }) => string[] | null | 'hang' | Promise<string[] | null | 'hang'>;

/** A real DNS server (UDP, on loopback) that Genie's resolver is pointed at (GENIE_WEBHOOK_DNS_SERVERS). */
export async function startDnsServer(answer: DnsAnswer) {
  const queries: DnsQuery[] = [];
  const server = dns2.createUDPServer(async (request, send) => {
    const [question] = request.questions;
    const name = question.name.toLowerCase();
    const type = question.type === Packet.TYPE.A ? 'A' : question.type === Packet.TYPE.AAAA ? 'AAAA' : 'other';
    const n = queries.filter((q) => q.name === name && q.type === type).length;
    queries.push({ name, type, at: Date.now() });
    const addresses = await answer({ name, type, n });
    if (addresses === 'hang') return;
    const response = Packet.createResponseFromRequest(request);
    if (addresses === null) response.header.rcode = 3; // NXDOMAIN
    for (const address of addresses ?? []) {
      if (isIP(address) !== (type === 'A' ? 4 : type === 'AAAA' ? 6 : 0)) continue;
      // TTL 0: nothing may cache an answer that a test changes on purpose (DNS rebinding).
      response.answers.push(Packet.createResourceFromQuestion(question, { class: Packet.CLASS.IN, ttl: 0, address }));
    }
    await send(response);
  });
  await server.listen(0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return {
    /** For GENIE_WEBHOOK_DNS_SERVERS / HostResolver's `servers`. */
    server: `127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
