import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import {
  ALERTMANAGER_CONFIG,
  asArray,
  asRecord,
  asString,
  isRecord,
  loadDashboards,
  PROMETHEUS_CONFIG,
  readYaml,
  REPO,
  RULES_FILE,
} from './support';

/**
 * No Docker engine runs here, so docker-compose.yml is checked structurally: it is parsed, every
 * file it mounts or builds from exists, every ${VAR} has a default or is documented, images are
 * pinned, every service has a health check, and every host:port one config uses to reach another
 * service (Prometheus targets, Alertmanager webhook, Grafana datasources, the OTLP endpoint, the
 * collector's exporter, ClickHouse URL) names a service of this file and a port it listens on.
 */

const COMPOSE_FILE = join(REPO, 'docker-compose.yml');
const DEPLOYMENT_DOC = join(REPO, 'docs', 'deployment.md');
const DATASOURCES_FILE = join(REPO, 'dashboards', 'provisioning', 'datasources', 'argus.yml');
const PROVIDERS_FILE = join(REPO, 'dashboards', 'provisioning', 'dashboards', 'argus.yml');

const compose = asRecord(readYaml(COMPOSE_FILE), COMPOSE_FILE);
const services = asRecord(compose.services, 'services');
const composeText = readFileSync(COMPOSE_FILE, 'utf8');
const deploymentDoc = readFileSync(DEPLOYMENT_DOC, 'utf8');

function service(name: string): Record<string, unknown> {
  return asRecord(services[name], `service ${name}`);
}

/** `environment` as a map (compose accepts a map or a list of KEY=VALUE). */
function environment(name: string): Record<string, string> {
  const env = service(name).environment;
  if (env === undefined) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((e) => {
        const text = asString(e, `${name}.environment[]`);
        const i = text.indexOf('=');
        return [text.slice(0, i), text.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(asRecord(env, `${name}.environment`)).map(([k, v]) => [k, String(v)]),
  );
}

/** Container ports a service listens on: `expose` and the container side of `ports`. */
function containerPorts(name: string): Set<number> {
  const svc = service(name);
  const ports = new Set<number>();
  for (const e of (svc.expose as unknown[] | undefined) ?? [])
    ports.add(Number(String(e).split('/')[0]));
  for (const p of (svc.ports as unknown[] | undefined) ?? []) {
    const spec = String(p).replace(/\$\{[^}]*\}/g, 'VAR');
    const last = spec.split(':').pop() ?? '';
    ports.add(Number(last.split('/')[0]));
  }
  return ports;
}

interface Mount {
  source: string;
  target: string;
  local: boolean;
}

function mounts(name: string): Mount[] {
  const volumes = (service(name).volumes as unknown[] | undefined) ?? [];
  return volumes.map((v) => {
    if (isRecord(v)) {
      const source = asString(v.source, `${name}.volumes[].source`);
      return {
        source,
        target: asString(v.target, `${name}.volumes[].target`),
        local: v.type === 'bind',
      };
    }
    const [source, target] = asString(v, `${name}.volumes[]`).split(':');
    return { source, target, local: source.startsWith('.') || source.startsWith('/') };
  });
}

/** The repository file a path inside a service's container comes from (through a bind mount). */
function hostPath(name: string, containerPath: string): string | undefined {
  for (const m of mounts(name)) {
    if (!m.local) continue;
    if (containerPath === m.target) return join(REPO, m.source);
    if (containerPath.startsWith(`${m.target}/`)) {
      return join(REPO, m.source, containerPath.slice(m.target.length + 1));
    }
  }
  return undefined;
}

/** The value of `--flag=value` in a service's command. */
function commandFlag(name: string, flag: string): string | undefined {
  const command = service(name).command;
  const args = Array.isArray(command)
    ? command.map((c) => asString(c, `${name}.command[]`))
    : typeof command === 'string'
      ? command.split(/\s+/)
      : [];
  const arg = args.find((a) => a.startsWith(`${flag}=`));
  return arg?.slice(flag.length + 1);
}

/** host and port of `host:port` or a URL. */
function hostPort(address: string): { host: string; port: number } {
  const url = new URL(address.includes('://') ? address : `tcp://${address}`);
  const port = url.port
    ? Number(url.port)
    : url.protocol === 'https:'
      ? 443
      : url.protocol === 'http:'
        ? 80
        : NaN;
  return { host: url.hostname, port };
}

/** Asserts `address` reaches a service of this compose file on a port it listens on. */
function expectReachable(address: string, expectedService: string, from: string): void {
  const { host, port } = hostPort(address);
  expect({ from, address, host }).toEqual({ from, address, host: expectedService });
  expect(Object.keys(services)).toContain(host);
  expect({ from, address, listens: [...containerPorts(host)] }).toEqual({
    from,
    address,
    listens: expect.arrayContaining([port]) as unknown,
  });
}

interface VariableUse {
  name: string;
  operator: string | undefined;
  rest: string;
}

/** `${VAR}` uses in a YAML file, outside comments (neither compose nor Grafana expands those). */
function variableUses(yamlText: string): VariableUse[] {
  const text = yamlText
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  const uses: VariableUse[] = [];
  for (const m of text.matchAll(/(\$+)\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}/g)) {
    if (m[1].length % 2 === 0) continue; // $${...} is a literal dollar sign
    uses.push({ name: m[2], operator: m[3], rest: m[4] ?? '' });
  }
  return uses;
}

function documentedVariables(): Set<string> {
  return new Set([...deploymentDoc.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
}

describe('docker-compose.yml', () => {
  it('has the Argus stack: Argus, ClickHouse, Prometheus, Alertmanager, Grafana, collector, Jaeger', () => {
    expect(Object.keys(services).sort()).toEqual(
      [
        'alertmanager',
        'argus',
        'clickhouse',
        'grafana',
        'jaeger',
        'otel-collector',
        'prometheus',
      ].sort(),
    );
    for (const [name, svc] of Object.entries(services)) {
      for (const dep of Object.keys(
        asRecord(asRecord(svc, name).depends_on ?? {}, `${name}.depends_on`),
      )) {
        expect({ name, dependsOn: Object.keys(services).includes(dep) }).toEqual({
          name,
          dependsOn: true,
        });
      }
    }
  });

  it('pins every image (no latest, no missing tag) and builds Argus from the Dockerfile', () => {
    const problems: string[] = [];
    for (const [name, raw] of Object.entries(services)) {
      const svc = asRecord(raw, name);
      if (svc.build !== undefined) {
        const build = asRecord(svc.build, `${name}.build`);
        const context = join(REPO, asString(build.context, `${name}.build.context`));
        const dockerfile = join(
          context,
          asString(build.dockerfile ?? 'Dockerfile', `${name}.build.dockerfile`),
        );
        if (!existsSync(dockerfile)) problems.push(`${name}: ${dockerfile} missing`);
        continue;
      }
      const image = asString(svc.image, `${name}.image`);
      const tag = /^[^:@]+(?::\d+)?\/?[^:@]*:([^:@/]+)$/.exec(image)?.[1];
      if (!tag) problems.push(`${name}: image ${image} has no tag`);
      else if (tag === 'latest' || !/\d/.test(tag))
        problems.push(`${name}: image ${image} is not pinned`);
    }
    expect(problems).toEqual([]);
    expect(asRecord(service('argus').build, 'argus.build').context).toBe('.');
    expect(String(service('clickhouse').image)).toMatch(/^clickhouse\/clickhouse-server:2\d\.\d+/);
    expect(String(service('otel-collector').image)).toMatch(
      /^otel\/opentelemetry-collector-contrib:/,
    );
    expect(String(service('jaeger').image)).toMatch(/^jaegertracing\/all-in-one:/);
  });

  it('the Dockerfile builds on node:20-bookworm-slim with npm ci and npm run build and serves', () => {
    const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-bookworm-slim\b/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^RUN npm run build\b/m);
    expect(dockerfile).toMatch(/^CMD \["node", "bin\/argus\.js", "serve"\]$/m);
    // Every COPY source from the build context exists.
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+)$/gm)) {
      const parts = m[1].trim().split(/\s+/);
      for (const source of parts.slice(0, -1)) {
        expect({ source, exists: existsSync(join(REPO, source)) }).toEqual({
          source,
          exists: true,
        });
      }
    }
  });

  it('gives every service a health check', () => {
    for (const [name, raw] of Object.entries(services)) {
      const health = asRecord(asRecord(raw, name).healthcheck, `${name}.healthcheck`);
      const test = asArray(health.test, `${name}.healthcheck.test`).map(String);
      expect({ name, kind: test[0], hasCommand: test.length > 1 }).toEqual({
        name,
        kind: expect.stringMatching(/^CMD(-SHELL)?$/) as unknown,
        hasCommand: true,
      });
      expect({ name, interval: typeof health.interval }).toEqual({ name, interval: 'string' });
    }
  });

  it('mounts only files that exist and declares every named volume', () => {
    const declared = new Set(Object.keys(asRecord(compose.volumes, 'volumes')));
    const used = new Set<string>();
    for (const name of Object.keys(services)) {
      for (const m of mounts(name)) {
        if (m.local) {
          const path = join(REPO, m.source);
          expect({ name, source: m.source, exists: existsSync(path) }).toEqual({
            name,
            source: m.source,
            exists: true,
          });
        } else {
          expect({ name, volume: m.source, declared: declared.has(m.source) }).toEqual({
            name,
            volume: m.source,
            declared: true,
          });
          used.add(m.source);
        }
      }
    }
    expect([...declared].sort()).toEqual([...used].sort());
    // Stateful services keep their data in named volumes.
    for (const [name, target] of [
      ['argus', '/data'],
      ['clickhouse', '/var/lib/clickhouse'],
      ['prometheus', '/prometheus'],
      ['alertmanager', '/alertmanager'],
      ['grafana', '/var/lib/grafana'],
    ]) {
      expect(mounts(name).find((m) => m.target === target && !m.local)).toBeDefined();
    }
  });

  it('takes every ${VAR} from a default or docs/deployment.md, and no secret is a literal', () => {
    const documented = documentedVariables();
    const problems: string[] = [];
    for (const use of variableUses(composeText)) {
      const hasDefault = use.operator === '-' || use.operator === ':-';
      if (!hasDefault && !documented.has(use.name))
        problems.push(`\${${use.name}} has no default and is not documented`);
      if (use.operator?.endsWith('?') && !documented.has(use.name))
        problems.push(`required \${${use.name}} is not documented`);
    }
    for (const [name, secret] of Object.entries(asRecord(compose.secrets ?? {}, 'secrets'))) {
      const env = asRecord(secret, `secrets.${name}`).environment;
      if (env === undefined) continue;
      const variable = asString(env, `secrets.${name}.environment`);
      if (!documented.has(variable)) problems.push(`secret ${name}: ${variable} undocumented`);
    }
    for (const name of Object.keys(services)) {
      for (const [key, value] of Object.entries(environment(name))) {
        if (/PASSWORD|TOKEN|SECRET/.test(key) && !/^\$\{[A-Z_]+/.test(value)) {
          problems.push(`${name}.${key} is a literal, not a variable`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(environment('argus').ARGUS_ADMIN_TOKEN).toMatch(/^\$\{ARGUS_ADMIN_TOKEN:\?/);
  });

  it('Prometheus scrapes Argus and sends alerts to Alertmanager at services and ports of this file', () => {
    const configPath = commandFlag('prometheus', '--config.file');
    expect(configPath).toBeDefined();
    expect(hostPath('prometheus', configPath ?? '')).toBe(PROMETHEUS_CONFIG);
    const config = asRecord(readYaml(PROMETHEUS_CONFIG), 'prometheus.yml');
    // rule_files resolve next to the config file inside the container, to the repository's rules.
    for (const f of asArray(config.rule_files, 'rule_files')) {
      const inContainer = posix.join(posix.dirname(configPath ?? ''), asString(f, 'rule_files[]'));
      expect(hostPath('prometheus', inContainer)).toBe(RULES_FILE);
    }
    const promPort = hostPort(commandFlag('prometheus', '--web.listen-address') ?? '').port;
    expect(containerPorts('prometheus')).toContain(promPort);

    const jobs = new Map<string, string[]>();
    for (const s of asArray(config.scrape_configs, 'scrape_configs')) {
      const scrape = asRecord(s, 'scrape_config');
      const targets = asArray(scrape.static_configs, 'static_configs').flatMap((c) =>
        asArray(asRecord(c, 'static_config').targets, 'targets').map(String),
      );
      jobs.set(asString(scrape.job_name, 'job_name'), targets);
    }
    expect(jobs.get('argus')).toEqual(['argus:8080']);
    expect(Number(environment('argus').PORT)).toBe(8080);
    for (const [job, targets] of jobs) {
      for (const target of targets) {
        const { host, port } = hostPort(target);
        if (host === 'localhost') expect({ job, port }).toEqual({ job, port: promPort });
        else expectReachable(target, host, `scrape job ${job}`);
      }
    }

    const alerting = asRecord(config.alerting, 'alerting');
    const amTargets = asArray(alerting.alertmanagers, 'alertmanagers').flatMap((a) =>
      asArray(asRecord(a, 'alertmanager').static_configs, 'static_configs').flatMap((c) =>
        asArray(asRecord(c, 'static_config').targets, 'targets').map(String),
      ),
    );
    expect(amTargets.length).toBeGreaterThan(0);
    for (const target of amTargets) expectReachable(target, 'alertmanager', 'prometheus alerting');
    const amPort = hostPort(commandFlag('alertmanager', '--web.listen-address') ?? '').port;
    expect(amTargets.map((t) => hostPort(t).port)).toEqual(amTargets.map(() => amPort));
  });

  it("Alertmanager's webhook reaches Argus and its bearer credential is the mounted admin-token secret", () => {
    expect(hostPath('alertmanager', commandFlag('alertmanager', '--config.file') ?? '')).toBe(
      ALERTMANAGER_CONFIG,
    );
    const config = asRecord(readYaml(ALERTMANAGER_CONFIG), 'alertmanager.yml');
    const hooks = asArray(config.receivers, 'receivers').flatMap((r) =>
      asArray(asRecord(r, 'receiver').webhook_configs ?? [], 'webhook_configs').map((h) =>
        asRecord(h, 'webhook'),
      ),
    );
    expect(hooks.length).toBeGreaterThan(0);
    const secrets = asArray(service('alertmanager').secrets ?? [], 'alertmanager.secrets').map(
      (s) =>
        isRecord(s)
          ? { source: String(s.source), target: String(s.target ?? s.source) }
          : { source: String(s), target: String(s) },
    );
    for (const hook of hooks) {
      const url = asString(hook.url, 'webhook url');
      expectReachable(url, 'argus', 'alertmanager webhook');
      expect(hostPort(url).port).toBe(Number(environment('argus').PORT));
      expect(new URL(url).pathname).toBe('/v1/alerts/alertmanager');
      const auth = asRecord(
        asRecord(hook.http_config, 'http_config').authorization,
        'authorization',
      );
      const file = asString(auth.credentials_file, 'credentials_file');
      const secretName = /^\/run\/secrets\/([\w-]+)$/.exec(file)?.[1];
      const secret = secrets.find((s) => s.target === secretName);
      expect(secret).toBeDefined();
      const declared = asRecord(
        asRecord(compose.secrets, 'secrets')[secret?.source ?? ''],
        'secret',
      );
      expect(declared.environment).toBe('ARGUS_ADMIN_TOKEN');
    }
  });

  it("Grafana's provisioning is mounted and its datasources point at the Prometheus and ClickHouse services", () => {
    expect(hostPath('grafana', '/etc/grafana/provisioning/datasources/argus.yml')).toBe(
      DATASOURCES_FILE,
    );
    expect(hostPath('grafana', '/etc/grafana/provisioning/dashboards/argus.yml')).toBe(
      PROVIDERS_FILE,
    );
    const env = environment('grafana');
    expect(env.GF_INSTALL_PLUGINS).toMatch(
      /(^|,)grafana-clickhouse-datasource( \d+\.\d+\.\d+)?($|,)/,
    );

    const datasources = asArray(
      asRecord(readYaml(DATASOURCES_FILE), 'datasources file').datasources,
      'datasources',
    ).map((d) => asRecord(d, 'datasource'));
    const byUid = new Map(datasources.map((d) => [String(d.uid), d]));
    const prometheus = byUid.get('argus-prometheus');
    const clickhouse = byUid.get('argus-clickhouse');
    expect(prometheus?.type).toBe('prometheus');
    expect(clickhouse?.type).toBe('grafana-clickhouse-datasource');
    expectReachable(
      asString(prometheus?.url, 'prometheus url'),
      'prometheus',
      'grafana datasource',
    );

    const json = asRecord(clickhouse?.jsonData, 'clickhouse jsonData');
    expect(json.protocol).toBe('http');
    expectReachable(
      `${asString(json.host, 'host')}:${String(json.port)}`,
      'clickhouse',
      'grafana datasource',
    );
    expect(json.defaultDatabase).toBe(environment('argus').CLICKHOUSE_DATABASE);
    expect(json.defaultDatabase).toBe(environment('clickhouse').CLICKHOUSE_DB);
    expect(typeof json.username).toBe('string');
    expect(typeof asRecord(clickhouse?.secureJsonData, 'secureJsonData').password).toBe('string');
    // Variables Grafana expands in the provisioning file are set in its container.
    for (const use of variableUses(readFileSync(DATASOURCES_FILE, 'utf8'))) {
      expect({ variable: use.name, set: use.name in env }).toEqual({
        variable: use.name,
        set: true,
      });
    }

    // The file provider's path is the mounted dashboards directory, and every dashboard uses the
    // provisioned datasources.
    const providers = asArray(
      asRecord(readYaml(PROVIDERS_FILE), 'providers file').providers,
      'providers',
    );
    expect(providers).toHaveLength(1);
    const provider = asRecord(providers[0], 'provider');
    expect(provider.type).toBe('file');
    const dir = hostPath(
      'grafana',
      asString(asRecord(provider.options, 'options').path, 'options.path'),
    );
    expect(dir).toBe(join(REPO, 'dashboards'));
    expect(statSync(dir ?? '').isDirectory()).toBe(true);
    expect(readdirSync(dir ?? '').filter((f) => f.endsWith('.json')).length).toBeGreaterThanOrEqual(
      3,
    );
    for (const dashboard of loadDashboards()) {
      const refs = [
        ...dashboard.targets.map((t) => t.datasource),
        ...dashboard.variables.map((v) => v.datasource),
      ];
      for (const ref of refs) {
        expect({ dashboard: dashboard.title, ref, provisioned: byUid.get(ref.uid)?.type }).toEqual({
          dashboard: dashboard.title,
          ref,
          provisioned: ref.type,
        });
      }
    }
    const home = env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    if (home !== undefined) expect(existsSync(hostPath('grafana', home) ?? '')).toBe(true);
  });

  it('Argus exports traces to the collector, and the collector to Jaeger, on ports they listen on', () => {
    const env = environment('argus');
    const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
    expectReachable(endpoint, 'otel-collector', 'argus OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(env.OTEL_EXPORTER_OTLP_PROTOCOL).toBe('http/protobuf');

    const configFlag = commandFlag('otel-collector', '--config');
    const configFile = hostPath('otel-collector', configFlag ?? '');
    expect(configFile).toBe(join(REPO, 'deploy', 'otel-collector', 'config.yaml'));
    const config = asRecord(readYaml(configFile ?? ''), 'collector config');
    const receivers = asRecord(config.receivers, 'receivers');
    const protocols = asRecord(asRecord(receivers.otlp, 'otlp receiver').protocols, 'protocols');
    const httpEndpoint = asString(
      asRecord(protocols.http, 'otlp http').endpoint,
      'otlp http endpoint',
    );
    expect(hostPort(httpEndpoint).port).toBe(hostPort(endpoint).port);

    const exporters = asRecord(config.exporters, 'exporters');
    const pipelines = asRecord(asRecord(config.service, 'service').pipelines, 'pipelines');
    const traces = asRecord(pipelines.traces, 'traces pipeline');
    for (const [kind, defined] of [
      ['receivers', receivers],
      ['processors', asRecord(config.processors, 'processors')],
      ['exporters', exporters],
    ] as const) {
      for (const id of asArray(traces[kind], `traces.${kind}`)) {
        expect({ kind, id, defined: String(id) in defined }).toEqual({ kind, id, defined: true });
      }
    }
    for (const id of asArray(traces.exporters, 'traces.exporters')) {
      const exporter = asRecord(exporters[String(id)], `exporter ${String(id)}`);
      expectReachable(
        asString(exporter.endpoint, 'exporter endpoint'),
        'jaeger',
        `collector exporter ${String(id)}`,
      );
    }
    for (const id of asArray(asRecord(config.service, 'service').extensions ?? [], 'extensions')) {
      expect(Object.keys(asRecord(config.extensions, 'extensions'))).toContain(String(id));
    }
  });

  it('Argus writes to the ClickHouse service', () => {
    const env = environment('argus');
    expectReachable(env.CLICKHOUSE_URL, 'clickhouse', 'argus CLICKHOUSE_URL');
    expect(env.CLICKHOUSE_USER).toBe(environment('clickhouse').CLICKHOUSE_USER);
    expect(env.CLICKHOUSE_PASSWORD).toBe(environment('clickhouse').CLICKHOUSE_PASSWORD);
    expect(env.CLICKHOUSE_DATABASE).toBe(environment('clickhouse').CLICKHOUSE_DB);
  });

  it('docs/deployment.md describes docker compose up, every service, image and published port', () => {
    expect(deploymentDoc).toContain('docker compose up');
    for (const [name, raw] of Object.entries(services)) {
      expect({ name, documented: deploymentDoc.includes(`\`${name}\``) }).toEqual({
        name,
        documented: true,
      });
      const svc = asRecord(raw, name);
      if (typeof svc.image === 'string' && svc.build === undefined) {
        expect({ name, image: svc.image, documented: deploymentDoc.includes(svc.image) }).toEqual({
          name,
          image: svc.image,
          documented: true,
        });
      }
      for (const p of (svc.ports as unknown[] | undefined) ?? []) {
        const spec = String(p);
        const hostSide = /\$\{([A-Z_]+):-(\d+)\}:\d+$/.exec(spec);
        expect(hostSide).not.toBeNull();
        expect({
          name,
          variable: hostSide?.[1],
          documented: deploymentDoc.includes(`\`${hostSide?.[1] ?? ''}\``),
        }).toEqual({
          name,
          variable: hostSide?.[1],
          documented: true,
        });
        expect(deploymentDoc).toContain(hostSide?.[2] ?? 'no port');
      }
    }
    expect(dirname(DEPLOYMENT_DOC)).toBe(join(REPO, 'docs'));
  });
});
