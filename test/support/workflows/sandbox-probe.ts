import { condition, defineSignal, setHandler } from '@temporalio/workflow';

export const finishSignal = defineSignal('finish');

/** Waits for a signal: long enough to be asked for its stack trace. */
export async function sandboxProbe(): Promise<string> {
  let done = false;
  setHandler(finishSignal, () => void (done = true));
  await condition(() => done);
  return 'ok';
}
