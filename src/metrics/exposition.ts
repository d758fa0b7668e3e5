/**
 * A Snapshot (snapshot.ts) as Prometheus text, through prom-client's registry and
 * formats. Labels are few and bounded: `tenant` (the registry's names), `class` (4
 * status classes), `state` (4), `result` (2), `server`; histograms have fixed, small
 * bucket sets (contract/request-counts.ts, hibernate/state.ts). A tenant that never
 * served a request since SILO_METRICS=on, or never woke, has no series for them.
 * Histograms are rebuilt from the counts the workers and the waker keep (prom-client's
 * own Histogram only observes), so they are objects of the shape its registry formats.
 */
import { Counter, Gauge, Registry, type MetricValueWithName } from 'prom-client';
import { LATENCY_BUCKETS_S, STATUS_CLASSES } from '../contract/request-counts.js';
import { WAKE_BUCKETS_S } from '../hibernate/state.js';
import { TENANT_STATES, type Snapshot, type TenantSample } from './snapshot.js';

interface Counts {
  buckets: number[];
  sum: number;
}

/** A histogram whose buckets are counted elsewhere (non-cumulative counts, the last above every bound). */
function countedHistogram(registry: Registry, name: string, help: string, bounds: readonly number[], read: () => [string, Counts][]) {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: MetricValueWithName<string>[] = [];
      for (const [tenant, c] of read()) {
        let acc = 0;
        bounds.forEach((le, i) => {
          acc += c.buckets[i] ?? 0;
          values.push({ metricName: `${name}_bucket`, labels: { tenant, le }, value: acc });
        });
        acc += c.buckets[bounds.length] ?? 0;
        values.push({ metricName: `${name}_bucket`, labels: { tenant, le: '+Inf' }, value: acc });
        values.push({ metricName: `${name}_sum`, labels: { tenant }, value: c.sum });
        values.push({ metricName: `${name}_count`, labels: { tenant }, value: acc });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  registry.registerMetric(metric as never);
}

/** A registry whose metrics read the snapshot given to `render`. */
export function createExposition() {
  const registry = new Registry();
  let snap: Snapshot = { at: 0, tenants: [], servers: [] };
  const each = (f: (t: TenantSample) => number | undefined) => {
    const out: [string, number][] = [];
    for (const t of snap.tenants) {
      const v = f(t);
      if (v !== undefined) out.push([t.name, v]);
    }
    return out;
  };

  const gauge = (name: string, help: string, f: (t: TenantSample) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['tenant'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [tenant, v] of each(f)) this.set({ tenant }, v);
      },
    });
  const counter = (name: string, help: string, f: (t: TenantSample) => number | undefined) =>
    new Counter({
      name,
      help,
      labelNames: ['tenant'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [tenant, v] of each(f)) this.inc({ tenant }, v);
      },
    });

  new Gauge({
    name: 'silo_tenant_state',
    help: 'Tenant state: 1 for the state it is in (awake, hibernated, suspended, down), 0 for the others',
    labelNames: ['tenant', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of snap.tenants) for (const state of TENANT_STATES) this.set({ tenant: t.name, state }, t.state === state ? 1 : 0);
    },
  });
  new Counter({
    name: 'silo_tenant_requests_total',
    help: 'Requests its worker answered, by status class (counted by the worker since its process started; health probes not counted)',
    labelNames: ['tenant', 'class'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of snap.tenants) if (t.requests) for (const c of STATUS_CLASSES) this.inc({ tenant: t.name, class: c }, t.requests.classes[c]);
    },
  });
  countedHistogram(registry, 'silo_tenant_request_duration_seconds', 'Time its worker took to answer a request, seconds', LATENCY_BUCKETS_S, () =>
    snap.tenants.filter((t) => t.requests).map((t) => [t.name, t.requests!]),
  );
  gauge('silo_tenant_memory_bytes', 'Resident memory of its worker process, bytes (awake tenants)', (t) => t.memoryBytes);
  counter('silo_tenant_cpu_seconds_total', 'CPU time (user + system) of its worker process since it started, seconds', (t) => t.cpuSeconds);
  counter('silo_tenant_restarts_total', 'Restarts of its worker by PM2 (crash, memory ceiling, reload) since its PM2 app was made', (t) => t.restarts);
  new Counter({
    name: 'silo_tenant_wakes_total',
    help: 'Wakes that started its worker (result ok or failed), counted by the waker',
    labelNames: ['tenant', 'result'],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of snap.tenants) {
        if (!t.wakes) continue;
        this.inc({ tenant: t.name, result: 'ok' }, t.wakes.ok);
        this.inc({ tenant: t.name, result: 'failed' }, t.wakes.failed);
      }
    },
  });
  countedHistogram(registry, 'silo_tenant_wake_duration_seconds', 'Time from a request to a hibernated tenant until its new worker was ready, seconds', WAKE_BUCKETS_S, () =>
    snap.tenants.filter((t) => t.wakes).map((t) => [t.name, t.wakes!]),
  );
  gauge('silo_tenant_database_bytes', 'Size of its database on disk, bytes (read at most once a minute)', (t) => t.databaseBytes);
  gauge('silo_tenant_database_connections', "Sessions its role holds on its server: its worker's pool connections", (t) => t.databaseConnections);
  gauge('silo_tenant_backup_age_seconds', 'Seconds since its newest backup ended', (t) => (t.lastBackupAt === undefined ? undefined : Math.max(0, (snap.at - t.lastBackupAt) / 1000)));
  gauge('silo_tenant_backup_last_ok', 'Whether its last backup attempt made a backup (1) or failed (0)', (t) => (t.lastBackupOk === undefined ? undefined : t.lastBackupOk ? 1 : 0));
  gauge('silo_tenant_certificate_expiry_timestamp_seconds', 'When the first of its hosts\' certificates expires, Unix time (SILO_TLS=on)', (t) => (t.certificateExpiresAt === undefined ? undefined : t.certificateExpiresAt / 1000));

  new Gauge({
    name: 'silo_tenants',
    help: 'Ready tenants by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const state of TENANT_STATES) this.set({ state }, snap.tenants.filter((t) => t.state === state).length);
    },
  });
  const serverGauge = (name: string, help: string, f: (s: Snapshot['servers'][number]) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['server'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of snap.servers) {
          const v = f(s);
          if (v !== undefined) this.set({ server: s.name }, v);
        }
      },
    });
  serverGauge('silo_server_up', 'Whether the database server answered this scrape', (s) => (s.up ? 1 : 0));
  serverGauge('silo_server_connections', 'Client sessions on the server now (tenants, silo, anyone)', (s) => s.connections);
  serverGauge('silo_server_max_connections', "The server's max_connections", (s) => s.maxConnections);
  serverGauge('silo_server_connection_budget', 'Sessions its tenants may hold: max_connections less the reserved ones (see the connection budget)', (s) => s.budget);

  return {
    contentType: registry.contentType,
    /** The snapshot as Prometheus text. */
    async render(s: Snapshot): Promise<string> {
      snap = s;
      return registry.metrics();
    },
  };
}
