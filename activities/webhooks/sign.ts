import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Headers for one delivery: the seed's `X-Genie-Signature` (hex HMAC-SHA256 of the exact body bytes,
 * keyed by the secret's UTF-8 bytes) and Standard Webhooks' headers, whose key is the base64 part of a
 * `whsec_` secret, else the secret's UTF-8 bytes.
 */
export function signWebhook(opts: { secret: string; msgId: string; body: string; at: Date }): Record<string, string> {
  const genie = createHmac('sha256', Buffer.from(opts.secret, 'utf8')).update(opts.body, 'utf8').digest('hex');
  const standard = opts.secret.startsWith('whsec_') ? new Webhook(opts.secret) : new Webhook(opts.secret, { format: 'raw' });
  return {
    'x-genie-signature': `sha256=${genie}`,
    'webhook-id': opts.msgId,
    'webhook-timestamp': String(Math.floor(opts.at.getTime() / 1000)),
    'webhook-signature': standard.sign(opts.msgId, opts.at, opts.body),
  };
}
