// make deploy-check: the Kubernetes manifests held to the code. Every overlay renders with
// kubectl kustomize; every object type-checks against the Kubernetes schemas (kubernetes-types,
// and the Prometheus operator's for its objects) with unknown fields rejected (tsc --strict);
// every probe and scrape target names a port and path the real binary serves (each binary runs
// with the manifest's own environment in a network namespace of its own); and the deployment's
// invariants hold for every workload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { bin } from './harness.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const K8S = path.join(ROOT, 'deploy/k8s');
const OVERLAYS = ['base', 'overlays/dev', 'overlays/prod'];
const SERVICES = ['edge', 'keypool', 'forwarder', 'logger', 'scheduler'];

const render = (dir) => YAML.parseAllDocuments(execFileSync('kubectl', ['kustomize', path.join(K8S, dir)]).toString())
  .map((d) => d.toJSON()).filter(Boolean);
const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, render(o)]));

const TYPES = {
  'v1/Namespace': ['kubernetes-types/core/v1', 'Namespace'],
  'v1/ConfigMap': ['kubernetes-types/core/v1', 'ConfigMap'],
  'v1/Service': ['kubernetes-types/core/v1', 'Service'],
  'v1/Secret': ['kubernetes-types/core/v1', 'Secret'],
  'apps/v1/Deployment': ['kubernetes-types/apps/v1', 'Deployment'],
  'apps/v1/StatefulSet': ['kubernetes-types/apps/v1', 'StatefulSet'],
  'batch/v1/Job': ['kubernetes-types/batch/v1', 'Job'],
  'policy/v1/PodDisruptionBudget': ['kubernetes-types/policy/v1', 'PodDisruptionBudget'],
  'autoscaling/v2/HorizontalPodAutoscaler': ['kubernetes-types/autoscaling/v2', 'HorizontalPodAutoscaler'],
  'networking.k8s.io/v1/NetworkPolicy': ['kubernetes-types/networking/v1', 'NetworkPolicy'],
  'monitoring.coreos.com/v1/PodMonitor': ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PodMonitor', 'IPodMonitor'],
  'monitoring.coreos.com/v1/PrometheusRule': ['@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule', 'IPrometheusRule'],
};

const podSpec = (o) => (o.kind === 'Job' || o.kind === 'Deployment' || o.kind === 'StatefulSet') ? o.spec.template.spec : null;
const workloads = (objs) => objs.filter(podSpec);
const ours = (c) => /switchboard/.test(c.image);

test('every overlay renders and every object validates against the schemas, unknown fields rejected', () => {
  const dir = path.join(HERE, '.deploy-check');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const imports = new Map();
  const lines = [];
  for (const [o, objs] of Object.entries(rendered)) {
    assert.ok(objs.length > 20, `${o} renders`);
    objs.forEach((obj, i) => {
      const t = TYPES[`${obj.apiVersion}/${obj.kind}`];
      assert.ok(t, `${o}: no schema known for ${obj.apiVersion} ${obj.kind}`);
      const alias = `T${[...imports.keys()].indexOf(t.join('#')) >= 0 ? [...imports.keys()].indexOf(t.join('#')) : imports.size}`;
      if (!imports.has(t.join('#'))) imports.set(t.join('#'), `import type { ${t[1]} as ${alias} } from '${t[0]}';`);
      lines.push(`// ${o}: ${obj.kind} ${obj.metadata.name}\nexport const o${lines.length}: ${alias} = ${JSON.stringify(obj, null, 1)};`);
    });
  }
  writeFileSync(path.join(dir, 'objects.ts'), [...imports.values(), ...lines].join('\n'));
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', module: 'esnext', moduleResolution: 'bundler', skipLibCheck: true, types: [] },
    files: ['objects.ts'],
  }));
  const r = spawnSync(process.execPath, [path.join(HERE, 'node_modules/typescript/bin/tsc'), '-p', dir]);
  assert.equal(r.status, 0, `tsc found objects that do not fit their schema:\n${r.stdout}${r.stderr}`.slice(0, 4000));
  // the checker itself rejects a misspelt field (so a pass above means something)
  writeFileSync(path.join(dir, 'objects.ts'), `import type { Deployment } from 'kubernetes-types/apps/v1';\nexport const x: Deployment = { apiVersion: 'apps/v1', kind: 'Deployment', spec: { replicas: 1, selector: {}, template: { spec: { containers: [{ name: 'a', imagePullPolice: 'Always' }] } } } };`);
  const bad = spawnSync(process.execPath, [path.join(HERE, 'node_modules/typescript/bin/tsc'), '-p', dir]);
  assert.notEqual(bad.status, 0);
  assert.match(`${bad.stdout}`, /imagePullPolice/);
  rmSync(dir, { recursive: true, force: true });
});

test('invariants: non-root, read-only, no capabilities, seccomp, resources, spread, PDBs, HPAs, policies, one image', () => {
  const secretKeys = new Set(Object.keys(YAML.parse(readFileSync(path.join(K8S, 'secret.example.yaml'), 'utf8')).stringData));
  const natsUsers = [...readFileSync(path.join(ROOT, 'deploy/config/nats-auth.conf'), 'utf8').matchAll(/user: (\w+)/g)].map((m) => m[1]);
  const redisUsers = [...readFileSync(path.join(ROOT, 'deploy/config/redis-users.acl'), 'utf8').matchAll(/^user (\w+) on/gm)].map((m) => m[1]);
  for (const [o, objs] of Object.entries(rendered)) {
    const images = new Set();
    const byKind = (k) => objs.filter((x) => x.kind === k);
    assert.ok(byKind('NetworkPolicy').some((p) => p.metadata.name === 'default-deny' && Object.keys(p.spec.podSelector).length === 0), `${o}: default deny`);
    for (const w of workloads(objs)) {
      const s = podSpec(w), app = w.spec.template.metadata.labels.app, where = `${o}: ${w.kind} ${w.metadata.name}`;
      assert.equal(s.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.ok(s.securityContext?.runAsUser > 0, `${where}: a numeric non-root user`);
      assert.equal(s.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp`);
      for (const c of [...(s.initContainers ?? []), ...s.containers]) {
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}/${c.name}: no privilege escalation`);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}/${c.name}: read-only root`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${where}/${c.name}: capabilities dropped`);
        assert.ok(c.resources?.requests?.cpu && c.resources?.requests?.memory && c.resources?.limits?.memory, `${where}/${c.name}: resources`);
        if (ours(c)) images.add(c.image);
        for (const e of c.env ?? []) {
          if (e.valueFrom?.secretKeyRef) assert.ok(secretKeys.has(e.valueFrom.secretKeyRef.key), `${where}: secret key ${e.valueFrom.secretKeyRef.key} is in secret.example.yaml`);
          if (e.name === 'NATS_USER') assert.ok(natsUsers.includes(e.value), `${where}: NATS user ${e.value} exists`);
          if (e.name === 'REDIS_USER') assert.ok(redisUsers.includes(e.value), `${where}: Redis user ${e.value} exists`);
        }
      }
      if (w.kind === 'Job') continue;
      if (w.metadata.name !== 'redis') {
        assert.ok((s.topologySpreadConstraints ?? []).some((t) => t.topologyKey === 'kubernetes.io/hostname'), `${where}: spread over nodes`);
        assert.ok(byKind('PodDisruptionBudget').some((p) => p.spec.selector.matchLabels.app === app), `${where}: a PDB`);
      }
      assert.ok(byKind('NetworkPolicy').some((p) => p.spec.podSelector.matchLabels?.app === app ||
        p.spec.podSelector.matchExpressions?.some((e) => e.values.includes(app))), `${where}: a network policy lets it talk`);
      const hpa = byKind('HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === w.metadata.name);
      if (['edge', 'forwarder'].includes(app)) {
        assert.equal(w.spec.replicas, undefined, `${where}: the HPA owns the replica count`);
        assert.ok(hpa, `${where}: an HPA`);
        assert.ok(hpa.spec.metrics.some((m) => m.type === 'Pods' && /inflight/.test(m.pods.metric.name)), `${where}: scales on in-flight work`);
        assert.ok(hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource.name === 'cpu'), `${where}: CPU as the fallback`);
        const c = s.containers[0];
        const drain = Number(c.env.find((e) => e.name === 'SB_DRAIN_S')?.value);
        const pause = Number(c.lifecycle?.preStop?.exec?.command?.[1]);
        assert.ok(pause > 0, `${where}: a preStop pause`);
        assert.ok(s.terminationGracePeriodSeconds >= drain + pause + 10, `${where}: the grace period covers the drain`);
      } else if (SERVICES.includes(app)) {
        assert.ok(w.spec.replicas >= 1 && !hpa, `${where}: fixed replicas`);
      }
    }
    assert.equal(images.size, 1, `${o}: one image for every service (${[...images]})`);
    const nats = objs.find((x) => x.kind === 'StatefulSet' && x.metadata.name === 'nats');
    assert.equal(nats.spec.replicas, 3, `${o}: a 3-node NATS cluster`);
    const conf = objs.find((x) => x.kind === 'ConfigMap' && x.metadata.name === 'nats-config').data['nats.conf'];
    assert.equal((conf.match(/nats:\/\/nats-\d\.nats-headless:6222/g) ?? []).length, 3, `${o}: routes to the three nodes`);
    assert.ok(objs.some((x) => x.kind === 'Service' && x.metadata.name === 'nats-headless' && x.spec.clusterIP === 'None'));
    assert.ok(objs.some((x) => x.kind === 'Job' && x.metadata.name === 'provision'), `${o}: the provisioning job`);
  }
  const js = (o) => rendered[o].find((x) => x.kind === 'ConfigMap' && x.metadata.name === 'switchboard').data.SB_JS_REPLICAS;
  assert.equal(js('overlays/prod'), '3', 'prod replicates streams and buckets 3 times');
  assert.ok(rendered['overlays/prod'].some((x) => x.kind === 'PrometheusRule'), 'prod has alerts');
  const alerts = rendered['overlays/prod'].find((x) => x.kind === 'PrometheusRule').spec.groups[0].rules.map((r) => r.expr).join('\n');
  for (const m of ['sb_keypool_keys', 'sb_logger_consumer_lag', 'sb_requests_total', 'sb_events_dropped_total'])
    assert.match(alerts, new RegExp(m), `an alert on ${m}`);
});

// Run a binary with exactly a container's environment (secrets replaced by stand-ins) in a
// network namespace of its own, and ask each path on each port: {"port path": status}.
function serve(container, configMap, asks) {
  const env = { PATH: process.env.PATH, ...configMap };
  const standIn = { SB_MASTER_KEY: 'ab'.repeat(32), SB_FORWARD_KEY: 'cd'.repeat(32), PG_DSN: 'host=127.0.0.1 port=1 dbname=x connect_timeout=1' };
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef) env[e.name] = standIn[e.name] ?? 'stand-in-secret';
  }
  const exe = bin(container.command[0]);
  const curl = asks.map(([port, p]) => `c=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:${port}${p}"); echo "${port} ${p} $c"`).join('\n');
  const script = `ip link set lo up
"${exe}" >/dev/null 2>&1 & pid=$!
for i in $(seq 100); do curl -s -o /dev/null -m 1 "http://127.0.0.1:${asks[0][0]}/" && break; sleep 0.05; done
${curl}
kill -TERM $pid; wait $pid; echo "exit $?"`;
  const r = spawnSync('unshare', ['-n', 'bash', '-c', script], { env, timeout: 30000 });
  const out = Object.fromEntries(r.stdout.toString().trim().split('\n').map((l) => { const m = l.split(' '); return [m.slice(0, -1).join(' '), m.at(-1)]; }));
  return out;
}

test('every probe and scrape target is a port and path the binary really serves', () => {
  for (const o of ['overlays/dev', 'overlays/prod']) {
    const objs = rendered[o];
    const cm = objs.find((x) => x.kind === 'ConfigMap' && x.metadata.name === 'switchboard').data;
    const monitors = objs.filter((x) => x.kind === 'PodMonitor');
    for (const w of workloads(objs)) {
      for (const c of podSpec(w).containers.filter(ours)) {
        const app = w.spec.template.metadata.labels.app;
        if (!SERVICES.includes(app)) continue;
        const ports = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
        const asks = [];
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          const g = c[probe]?.httpGet;
          assert.ok(g, `${o}/${app}: ${probe}`);
          const port = typeof g.port === 'number' ? g.port : ports[g.port];
          assert.ok(port, `${o}/${app}: ${probe} names a port the container declares (${g.port})`);
          asks.push([port, g.path]);
        }
        for (const m of monitors)
          if (m.spec.selector.matchExpressions[0].values.includes(app))
            for (const ep of m.spec.podMetricsEndpoints) { assert.ok(ports[ep.port], `${o}/${app}: scrape port ${ep.port}`); asks.push([ports[ep.port], ep.path]); }
        const got = serve(c, cm, asks);
        for (const [port, p] of asks) {
          const status = got[`${port} ${p}`];
          assert.ok(['200', '503'].includes(status), `${o}/${app}: the binary answers ${p} on ${port} (got ${status})`);
        }
        assert.equal(got[`${ports.ops} /healthz`] ?? got[`${asks[0][0]} /healthz`], '200', `${o}/${app}: alive`);
        assert.equal(got.exit, '0', `${o}/${app}: SIGTERM while NATS is out of reach exits 0`);
        if (app === 'edge') {
          const svc = objs.find((x) => x.kind === 'Service' && x.metadata.name === 'edge');
          const target = svc.spec.ports[0].targetPort;
          assert.equal(ports[target], Number(c.env.find((e) => e.name === 'SB_HTTP_PORT').value), 'the edge Service reaches the port the edge listens on');
        }
      }
    }
  }
});
