// Two keypool and two forwarder replicas serve together: shared Redis state keeps rotation exact,
// and the queue groups spread leases and transfers across replicas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack, textOf } from './harness.mjs';

const KEYS = 'pa:key-alpha-0000000001,pb:key-bravo-0000000002,pc:key-charlie-000000003';

test('two keypools and two forwarders serve together correctly', async () => {
  const s = new Stack();
  try {
    await s.start(KEYS, { keypools: 2, forwarders: 2, kpEnv: { LOG_LEVEL: 'debug' } });
    // sequential: the shared pool state makes rotation exact across keypool replicas
    for (let i = 0; i < 30; i++) {
      const r = await s.gen('gemini-2.5-flash', `seq ${i}`);
      assert.equal(r.status, 200);
      assert.equal(textOf(await r.json()), `Echo: seq ${i}`);
    }
    const c = (await s.stats()).calls;
    assert.deepEqual(Object.values(c).sort(), [10, 10, 10]);
    // concurrent: every answer belongs to its own request
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => s.gen('gemini-2.5-flash', `par ${i}`)));
    for (let i = 0; i < 40; i++) {
      assert.equal(rs[i].status, 200);
      assert.equal(textOf(await rs[i].json()), `Echo: par ${i}`);
    }
    const leases = (n) => (s.logs(n).match(/event=lease\.ok/g) || []).length;
    const done = (n) => (s.logs(n).match(/event=upstream\.done/g) || []).length;
    assert.equal(leases('keypool') + leases('keypool1'), 70);
    assert.ok(leases('keypool') > 0 && leases('keypool1') > 0, 'both keypools leased');
    assert.equal(done('forwarder') + done('forwarder1'), 70);
    assert.ok(done('forwarder') > 0 && done('forwarder1') > 0, 'both forwarders served');
  } catch (e) {
    s.dumpLogs();
    throw e;
  } finally {
    await s.stop();
  }
});

test('sustained concurrency: 600 requests, 64 in flight, every answer matched to its request', async () => {
  const s = new Stack();
  try {
    await s.start(KEYS, { forwarders: 2 });
    let next = 0;
    const worker = async () => {
      while (next < 600) {
        const i = next++;
        const r = await s.gen(i % 3 ? 'gemini-2.5-flash' : 'gemini-2.5-pro', `load ${i}`, { stream: i % 2 === 0 });
        assert.equal(r.status, 200);
        const text = await r.text();
        assert.ok(text.includes(`load ${i}`) || text.includes(`"${i}"`) || text.includes(` ${i}`), `answer of request ${i}`);
      }
    };
    await Promise.all(Array.from({ length: 64 }, worker));
    const c = (await s.stats()).calls;
    assert.equal(Object.values(c).reduce((a, b) => a + b, 0), 600, 'one upstream call per request');
    assert.ok(Object.values(c).every((n) => n >= 120), `spread across the three projects: ${JSON.stringify(c)}`);
  } catch (e) {
    s.dumpLogs();
    throw e;
  } finally {
    await s.stop();
  }
});
