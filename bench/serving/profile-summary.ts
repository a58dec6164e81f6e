import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `run.ts --cpu-prof DIR`): self and inclusive time per
 * function and per area (Nest, Fastify, ONNX Runtime, Argus modules, prom-client, GC...), over
 * the last `--window` seconds of the profile only, so start-up (ts-node, Nest boot, model load)
 * does not drown the request path.
 *
 *   node -r ts-node/register/transpile-only bench/serving/profile-summary.ts FILE.cpuprofile \
 *     [--window 8] [--top 25]
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const ROOT = resolve(__dirname, '..', '..');

function area(frame: CallFrame): string {
  const url = frame.url;
  if (!url) {
    if (frame.functionName.startsWith('(')) return frame.functionName;
    return '(native)';
  }
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node:internal';
  const local = /\/(src|bench|test)\/(.*)$/.exec(url);
  if (local) return `${local[1]}/${local[2].split('/').slice(0, -1).join('/') || '.'}`;
  return url;
}

function label(frame: CallFrame): string {
  const where = frame.url
    ? `${frame.url.startsWith('file://') || frame.url.startsWith('/') ? relative(ROOT, frame.url.replace(/^file:\/\//, '')) : frame.url}:${frame.lineNumber + 1}`
    : '';
  return `${frame.functionName || '(anonymous)'} ${where}`.trim();
}

function main(argv: string[]): void {
  const file = argv.find((a) => !a.startsWith('--'));
  if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [--window S] [--top N]');
  const opt = (name: string, def: number) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? Number(argv[i + 1]) : def;
  };
  const windowUs = opt('window', 8) * 1e6;
  const top = opt('top', 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const areaSelf = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  const from = profile.endTime - windowUs;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < from || dt <= 0) continue;
    const leaf = byId.get(profile.samples[i]);
    if (!leaf) continue;
    total += dt;
    const leafLabel = label(leaf.callFrame);
    self.set(leafLabel, (self.get(leafLabel) ?? 0) + dt);
    const leafArea = area(leaf.callFrame);
    areaSelf.set(leafArea, (areaSelf.get(leafArea) ?? 0) + dt);
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (!node) break;
      const l = label(node.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + dt);
    }
  }
  const print = (title: string, m: Map<string, number>, n: number) => {
    process.stdout.write(`\n${title} (of ${(total / 1000).toFixed(0)} ms sampled)\n`);
    for (const [k, v] of [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)) {
      process.stdout.write(
        `${((100 * v) / total).toFixed(1).padStart(6)}%  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}\n`,
      );
    }
  };
  print('self time by area', areaSelf, top);
  print('self time by function', self, top);
  print('inclusive time by function', inclusive, top);
}

main(process.argv.slice(2));
