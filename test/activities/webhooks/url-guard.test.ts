import dns from 'node:dns';
import { WebhookUrlGuard } from '../../../activities/webhooks/url-guard.js';
import { signWebhook } from '../../../activities/webhooks/sign.js';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

const lookup = (guard: WebhookUrlGuard, host: string) =>
  new Promise<string>((resolve, reject) =>
    (guard.lookup() as unknown as (h: string, o: dns.LookupOptions, cb: (e: Error | null, a?: string) => void) => void)(host, {}, (e, a) => (e ? reject(e) : resolve(a!))),
  );

describe('webhook URL guard', () => {
  const guard = new WebhookUrlGuard([]);

  it.each(['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fc00::1', '::ffff:127.0.0.1', '224.0.0.1'])(
    'refuses %s',
    (a) => expect(guard.isAllowedAddress(a)).toBe(false),
  );
  it.each(['93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8'])('allows public %s', (a) => expect(guard.isAllowedAddress(a)).toBe(true));

  it('checks the address actually resolved at connect time (DNS rebinding)', async () => {
    await expect(lookup(guard, 'localhost')).rejects.toMatchObject({ code: 'EWEBHOOKBLOCKED' });
    await expect(lookup(new WebhookUrlGuard(['localhost']), 'localhost')).resolves.toMatch(/^(127\.0\.0\.1|::1)$/);
  });

  it('refuses URLs with credentials', async () => {
    await expect(guard.assertAllowed('https://user:pw@example.com/')).rejects.toMatchObject({ body: { param: 'webhook.url' } });
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
