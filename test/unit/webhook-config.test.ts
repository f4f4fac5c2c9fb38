import { loadConfig } from '../../workers/config.js';

describe('webhook settings', () => {
  it('reads the webhook DNS servers and timeout', () => {
    expect(loadConfig({}).GENIE_WEBHOOK_DNS_SERVERS).toEqual([]);
    const c = loadConfig({ GENIE_WEBHOOK_DNS_SERVERS: '127.0.0.1:5353, [::1]:53', GENIE_WEBHOOK_DNS_TIMEOUT_MS: '500' });
    expect(c.GENIE_WEBHOOK_DNS_SERVERS).toEqual(['127.0.0.1:5353', '[::1]:53']);
    expect(c.GENIE_WEBHOOK_DNS_TIMEOUT_MS).toBe(500);
    expect(() => loadConfig({ GENIE_WEBHOOK_DNS_SERVERS: 'dns.example:53' })).toThrow(/GENIE_WEBHOOK_DNS_SERVERS/);
  });
});
