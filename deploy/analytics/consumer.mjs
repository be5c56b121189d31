// An analytics consumer for Switchboard's event stream: attaches its own durable consumer to the
// JetStream stream SB_EVENTS (independent of the logger's: each durable sees every event once,
// at its own pace, and resumes where it stopped) and prints one JSON line per event.
//
//   npm install nats@2 protobufjs@7
//   NATS_URL=nats://127.0.0.1:4222 NATS_USER=analytics NATS_PASSWORD=... node consumer.mjs
//
// Env: NATS_URL, NATS_USER and NATS_PASSWORD (the `analytics` user of deploy/config/nats-auth.conf: it
// may make and read consumers of SB_EVENTS, and receives replies on _INBOX_analytics.>),
// ANALYTICS_DURABLE (default "analytics"), ANALYTICS_FILTER (default every event,
// "sb.v1.events.requests" for requests only), SB_PROTO_DIR (default ../../proto from this file).
// Finished requests travel in batches (RequestEvents: what an edge finished within ~10 ms); each
// is printed as a line of its own. A message is acknowledged after its lines are printed: a crash
// means a redelivery, never a loss.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, AckPolicy, DeliverPolicy } from 'nats';
import protobuf from 'protobufjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const protoDir = process.env.SB_PROTO_DIR || path.resolve(here, '../../proto');
const durable = process.env.ANALYTICS_DURABLE || 'analytics';
const filter = process.env.ANALYTICS_FILTER || 'sb.v1.events.>';

const root = await protobuf.load(path.join(protoDir, 'events.proto'));
const batch = root.lookupType('sb.v1.RequestEvents');
const types = {
  'sb.v1.events.request': root.lookupType('sb.v1.RequestEvent'), // one, from an edge before batches
  'sb.v1.events.key': root.lookupType('sb.v1.KeyEvent'),
  'sb.v1.events.job': root.lookupType('sb.v1.JobRun'),
};

const user = process.env.NATS_USER;
const nc = await connect({
  servers: process.env.NATS_URL || 'nats://127.0.0.1:4222',
  ...(user ? { user, pass: process.env.NATS_PASSWORD, inboxPrefix: `_INBOX_${user}` } : {}),
});
const jsm = await nc.jetstreamManager();
// creating an existing durable with the same settings is a no-op, so this is safe on restart
await jsm.consumers.add('SB_EVENTS', {
  durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
  filter_subject: filter,
});
const consumer = await nc.jetstream().consumers.get('SB_EVENTS', durable);
const messages = await consumer.consume({ max_messages: 256 });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { messages.stop(); });
const line = (m, type, decoded) => JSON.stringify({ subject: m.subject, seq: m.seq, ...type.toObject(decoded, { longs: Number, defaults: true }) }) + '\n';
for await (const m of messages) {
  const type = types[m.subject];
  if (m.subject === 'sb.v1.events.requests') {
    const events = batch.decode(m.data).events;
    process.stdout.write(events.map((e) => line(m, types['sb.v1.events.request'], e)).join(''));
  } else if (type) {
    process.stdout.write(line(m, type, type.decode(m.data)));
  }
  m.ack();
}
await nc.drain();
