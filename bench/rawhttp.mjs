// A minimal HTTP/1.1 client on one kept-alive socket, for make bench's time-to-first-byte table:
// fetch() resolves on the head and hands the body over in a later turn of node's loop, so what it
// measures depends on how the server split head and body into packets. This client timestamps
// the bytes as they arrive: when the first byte of the body came, and when the response was whole
// (Content-Length, or the chunked encoding's last chunk). Bounded: a response over 1 MiB fails.
import net from 'node:net';

const MAX = 1 << 20;

// The offset just after a complete chunked body in s (from its start), or -1 while incomplete.
function chunkedEnd(s) {
  let i = 0;
  for (;;) {
    const eol = s.indexOf('\r\n', i);
    if (eol < 0) return -1;
    const size = parseInt(s.slice(i, eol), 16);
    if (Number.isNaN(size)) throw new Error('bad chunk size');
    if (size === 0) {
      const end = s.indexOf('\r\n\r\n', eol);
      return end < 0 ? -1 : end + 4;
    }
    i = eol + 2 + size + 2;
    if (i > s.length) return -1;
  }
}

export async function rawClient(url) {
  const u = new URL(url);
  const sock = net.connect(Number(u.port), u.hostname);
  sock.setNoDelay(true);
  await new Promise((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  let pending = null;
  sock.on('error', (e) => pending?.reject(e));
  sock.on('close', () => pending?.reject(new Error('connection closed')));
  sock.on('data', (d) => {
    const now = performance.now();
    const p = pending;
    if (!p) return;
    p.buf += d.toString('latin1');
    if (p.buf.length > MAX) return p.reject(new Error('response too large'));
    const he = p.buf.indexOf('\r\n\r\n');
    if (he < 0) return;
    const head = p.buf.slice(0, he);
    const body = p.buf.slice(he + 4);
    if (!/^HTTP\/1\.1 200 /.test(head)) return p.reject(new Error(`status ${head.split('\r\n')[0]}`));
    if (body.length && p.firstBody === null) p.firstBody = now - p.t0;
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const done = cl ? body.length >= Number(cl[1]) : chunkedEnd(body) >= 0;
    if (done) { pending = null; p.resolve({ firstBody: p.firstBody, whole: now - p.t0 }); }
  });
  return {
    // POST body to path; resolves with { firstBody, whole } in ms after the request was written
    post(path, headers, body) {
      return new Promise((resolve, reject) => {
        const lines = Object.entries({ host: u.host, 'content-type': 'application/json', ...headers,
          'content-length': Buffer.byteLength(body) }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        pending = { resolve, reject, buf: '', firstBody: null, t0: performance.now() };
        sock.write(`POST ${path} HTTP/1.1\r\n${lines}\r\n${body}`);
      });
    },
    close() { sock.destroy(); },
  };
}
