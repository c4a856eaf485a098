// `npx node tests/bench/test-kit-startup.ts [count]`: how long TestEnvironment.create takes (the
// first in a process makes the migrated PGlite image; the rest open copies of it), and how long a
// job with a 30-day sleep takes in wall time. Prints one line per environment.
import { TestEnvironment } from '@ratchet/engine/testing';
import { defineWorkflow } from '@ratchet/sdk';

const count = Number(process.argv[2] ?? 5);
if (!Number.isInteger(count) || count < 1 || count > 50) throw new RangeError(`count must be an integer 1-50, got ${process.argv[2]}`);

const month = defineWorkflow('month', async (ctx) => {
  await ctx.step('before', () => 'before');
  await ctx.sleep('30d');
  return ctx.step('after', () => 'after');
});

for (let i = 1; i <= count; i++) {
  const created = performance.now();
  const env = await TestEnvironment.create({ workflows: [month] });
  const createMs = performance.now() - created;
  const ran = performance.now();
  const job = await env.client.start(month, {});
  await job.result({ timeout: '10s' });
  const runMs = performance.now() - ran;
  await env.close();
  console.log(`environment ${i}: create ${createMs.toFixed(0)} ms, 30-day job ${runMs.toFixed(1)} ms`);
}
