import { loadConfig } from '../../workers/config.js';

describe('webhook settings', () => {
  it('refuses a GENIE_WEBHOOK_TIMEOUT_MS the attempt’s local activity (1 min start-to-close) would cut first', () => {
    // Cut by that timeout, an attempt is retried at once by the activity's retry policy: outside the
    // receiver's schedule, every minute, for as long as the receiver hangs.
    expect(() => loadConfig({ GENIE_WEBHOOK_TIMEOUT_MS: '60000' })).toThrow(/GENIE_WEBHOOK_TIMEOUT_MS/);
    expect(loadConfig({ GENIE_WEBHOOK_TIMEOUT_MS: '50000' }).GENIE_WEBHOOK_TIMEOUT_MS).toBe(50_000);
  });

  it('reads the webhook DNS servers and timeout', () => {
    expect(loadConfig({}).GENIE_WEBHOOK_DNS_SERVERS).toEqual([]);
    const c = loadConfig({ GENIE_WEBHOOK_DNS_SERVERS: '127.0.0.1:5353, [::1]:53', GENIE_WEBHOOK_DNS_TIMEOUT_MS: '500' });
    expect(c.GENIE_WEBHOOK_DNS_SERVERS).toEqual(['127.0.0.1:5353', '[::1]:53']);
    expect(c.GENIE_WEBHOOK_DNS_TIMEOUT_MS).toBe(500);
    expect(() => loadConfig({ GENIE_WEBHOOK_DNS_SERVERS: 'dns.example:53' })).toThrow(/GENIE_WEBHOOK_DNS_SERVERS/);
  });
});
