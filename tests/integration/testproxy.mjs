// Small outbound proxies for tests, on loopback: an HTTP forward proxy (absolute-URI requests)
// and a SOCKS5 proxy (no authentication, CONNECT). Each counts the calls per API key it carried
// (the x-goog-api-key header, or ?key= for Vertex AI) and can be stopped and started again on
// its port.
import http from 'node:http';
import net from 'node:net';

const keyOf = (text) => {
  const h = /x-goog-api-key:\s*([^\s]+)/i.exec(text);
  if (h) return h[1];
  const q = /[?&]key=([^&\s]+)/.exec(text);
  return q ? decodeURIComponent(q[1]) : null;
};

class TestProxy {
  constructor(kind) { this.kind = kind; this.hits = new Map(); this.sockets = new Set(); this.port = 0; }
  count(key) { if (key) this.hits.set(key, (this.hits.get(key) ?? 0) + 1); }
  get url() { return `${this.kind === 'socks' ? 'socks5' : 'http'}://127.0.0.1:${this.port}`; }

  makeServer() {
    if (this.kind === 'http') {
      const srv = http.createServer((req, res) => {
        const u = new URL(req.url);
        this.count(req.headers['x-goog-api-key'] ?? u.searchParams.get('key'));
        const up = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: req.method, headers: req.headers }, (ur) => {
          res.writeHead(ur.statusCode, ur.headers);
          ur.pipe(res);
        });
        up.on('error', () => { res.destroy(); });
        req.pipe(up);
      });
      srv.keepAliveTimeout = 60000;
      return srv;
    }
    return net.createServer((c) => {
      let stage = 0, pending = Buffer.alloc(0);
      const onData = (d) => {
        pending = Buffer.concat([pending, d]);
        if (stage === 0 && pending.length >= 2 && pending.length >= 2 + pending[1]) {
          pending = pending.subarray(2 + pending[1]);
          c.write(Buffer.from([5, 0]));
          stage = 1;
        }
        if (stage === 1 && pending.length >= 5) {
          const atyp = pending[3];
          const alen = atyp === 1 ? 4 : atyp === 3 ? 1 + pending[4] : 16;
          if (pending.length < 4 + alen + 2) return;
          const host = atyp === 1 ? [...pending.subarray(4, 8)].join('.') : pending.subarray(5, 5 + pending[4]).toString();
          const port = pending.readUInt16BE(4 + alen);
          const rest = pending.subarray(4 + alen + 2);
          stage = 2;
          c.off('data', onData);
          const up = net.connect(port, host, () => {
            c.write(Buffer.from([5, 0, 0, 1, 0, 0, 0, 0, 0, 0]));
            // each request on the connection (keep-alive) starts with its request line
            const sniff = (b) => { const t = b.toString('latin1'); if (/^(GET|POST|PUT|PATCH|DELETE) /.test(t)) this.count(keyOf(t)); };
            c.on('data', sniff);
            if (rest.length) { sniff(rest); up.write(rest); }
            c.pipe(up);
            up.pipe(c);
          });
          up.on('error', () => c.destroy());
          c.on('error', () => up.destroy());
          c.on('close', () => up.destroy());
        }
      };
      c.on('data', onData);
    });
  }

  async start() {
    this.server = this.makeServer();
    this.server.on('connection', (sock) => { this.sockets.add(sock); sock.on('close', () => this.sockets.delete(sock)); });
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => { this.port = this.server.address().port; resolve(); });
    });
  }

  async stop() {
    if (!this.server) return;
    const closed = new Promise((r) => this.server.close(r));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.server = null;
  }
}

export const testProxy = async (kind) => { const p = new TestProxy(kind); await p.start(); return p; };
