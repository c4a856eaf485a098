import { subjectsFor } from '@ratchet/protocol';
import { EngineClient } from '@ratchet/sdk';
import { describe, expect, it } from 'vitest';
import { STACK_KINDS, startStack } from '../harness/index.ts';

describe.each(STACK_KINDS)('stopping an engine on %s', (kind) => {
  it('answers the commands it was carrying out before it stops, so the store can close under it', async () => {
    const stack = await startStack(kind);
    try {
      const engine = new EngineClient({ transport: stack.transport, subjects: subjectsFor(stack.prefix) });
      // An append to a job the engine cannot see: it looks again for about 150 ms (the job may
      // have been started through another engine) before refusing.
      const pending = engine.send({ type: 'AppendEvents', jobId: 'nobody', expectedSeq: 1, epoch: 1, events: [] });
      const outcome = pending.then(
        () => 'accepted',
        (error: Error) => error.name,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
      const t0 = Date.now();
      await stack.engine.stop();
      const stoppedAfter = Date.now() - t0;
      await stack.store.close();
      // The command got its real answer (not a timeout, nor a closed store), and stop() waited for it.
      expect(await outcome).toBe('JobNotFoundError');
      expect(stoppedAfter).toBeGreaterThan(50);
    } finally {
      await stack.close();
    }
  });
});
