import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CsvTable,
  OfflineDriftReport,
  compareCsvFiles,
  compareTables,
  formatDriftTable,
  ksTwoSample,
  normedWassersteinDistance,
  readCsvTable,
} from '../../../src/monitoring';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'argus-offline-drift-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text, 'utf8');
  return path;
}

function generator(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const uniform = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  return () => {
    let t = 0;
    for (let i = 0; i < 12; i++) t += uniform();
    return t - 6;
  };
}

function table(header: string[], rows: (string | number)[][]): CsvTable {
  return {
    header,
    columns: header.map((_, j) => rows.map((r) => String(r[j]))),
    rows: rows.length,
  };
}

function expectContract(report: OfflineDriftReport): void {
  const text = JSON.stringify(report);
  expect(text).not.toMatch(/NaN|Infinity/);
  expect(Object.keys(report).sort()).toEqual(['dataset_drift', 'drift_share', 'features']);
  for (const f of report.features) {
    expect(Object.keys(f).sort()).toEqual(
      ['drift', 'method', 'name', 'score', 'stats', 'status', 'threshold', 'type'].sort(),
    );
    const keys =
      f.type === 'numerical'
        ? [
            'ks_statistic',
            'ks_p_value',
            'wasserstein_normed',
            'psi',
            'jensen_shannon',
            'hellinger',
            'chi2_statistic',
            'chi2_p_value',
            'missing_share_reference',
            'missing_share_current',
          ]
        : [
            'psi',
            'jensen_shannon',
            'hellinger',
            'chi2_statistic',
            'chi2_p_value',
            'missing_share_reference',
            'missing_share_current',
          ];
    expect(Object.keys(f.stats).sort()).toEqual(keys.sort());
    for (const v of Object.values(f.stats)) expect(v === null || Number.isFinite(v)).toBe(true);
    if (f.status === 'ok') expect(typeof f.score).toBe('number');
    else expect([f.score, f.drift]).toEqual([null, false]);
  }
}

describe('CSV reading', () => {
  it('handles quotes, escaped quotes, embedded commas and newlines, CRLF and a BOM', async () => {
    const path = file(
      'quoted.csv',
      '\uFEFFname,"note, with comma"\r\n"Smith, J","said ""hi"""\r\n"multi\nline",\r\nplain,"x"',
    );
    const t = await readCsvTable(path);
    expect(t.header).toEqual(['name', 'note, with comma']);
    expect(t.rows).toBe(3);
    expect(t.columns[0]).toEqual(['Smith, J', 'multi\nline', 'plain']);
    expect(t.columns[1]).toEqual(['said "hi"', '', 'x']);
  });

  it('reports malformed files with the path and what is wrong', async () => {
    await expect(readCsvTable(file('ragged.csv', 'a,b\n1,2\n3\n'))).rejects.toThrow(
      /ragged\.csv: record 3 has 1 fields, the header has 2/,
    );
    await expect(readCsvTable(file('open.csv', 'a\n"never closed\n'))).rejects.toThrow(
      /open\.csv: CSV ends inside a quoted field/,
    );
    await expect(readCsvTable(file('empty.csv', ''))).rejects.toThrow(/empty file/);
    await expect(readCsvTable(file('dup.csv', 'a,a\n1,2\n'))).rejects.toThrow(/'a' appears twice/);
    await expect(readCsvTable(join(dir, 'absent.csv'))).rejects.toThrow(/no such file/);
  });
});

describe('compareTables / compareCsvFiles', () => {
  const normal = generator(1);
  const ref = Array.from({ length: 1500 }, () => normal());
  const cur = Array.from({ length: 800 }, () => normal() + 0.3);

  it('large references use normed Wasserstein and Jensen–Shannon; raw KS/W match the stats functions', () => {
    const colors = ['red', 'green', 'blue'];
    const report = compareTables(
      table(
        ['x', 'color'],
        ref.map((v, i) => [v, colors[i % 3]]),
      ),
      table(
        ['x', 'color'],
        cur.map((v, i) => [v, colors[i % 2]]),
      ),
    );
    expectContract(report);
    const [x, color] = report.features;
    expect(x).toMatchObject({
      type: 'numerical',
      method: 'wasserstein',
      status: 'ok',
      drift: true,
    });
    expect(x.score).toBe(x.stats.wasserstein_normed);
    expect(x.stats.wasserstein_normed).toBeCloseTo(normedWassersteinDistance(ref, cur), 12);
    expect(x.stats.ks_p_value).toBe(ksTwoSample(ref, cur).pValue);
    expect(color).toMatchObject({ type: 'categorical', method: 'jensen_shannon', drift: true });
    expect(report.drift_share).toBe(1);
    expect(report.dataset_drift).toBe(true);
  });

  it('methods, thresholds and types can be overridden per column', () => {
    const rows = (values: number[]): (string | number)[][] => values.map((v) => [v, Math.round(v)]);
    const report = compareTables(table(['x', 'r'], rows(ref)), table(['x', 'r'], rows(cur)), {
      methods: { x: 'psi' },
      thresholds: { x: 5 },
      featureTypes: { r: 'numerical' },
    });
    const [x, r] = report.features;
    expect(x.method).toBe('psi');
    expect(x.threshold).toBe(5);
    expect(x.drift).toBe(false);
    expect(r.type).toBe('numerical');
    expectContract(report);
  });

  it('columns present in only one file are entirely missing in the other', () => {
    const report = compareTables(
      table(
        ['a', 'gone'],
        ref.slice(0, 100).map((v) => [v, v]),
      ),
      table(
        ['a', 'new'],
        cur.slice(0, 100).map((v) => [v, v]),
      ),
    );
    expect(report.features.map((f) => f.name)).toEqual(['a', 'gone', 'new']);
    const gone = report.features[1];
    expect(gone.status).toBe('insufficient_data');
    expect(gone.stats.missing_share_current).toBe(1);
    expect(report.features[2].stats.missing_share_reference).toBe(1);
    expectContract(report);
    expect(() =>
      compareTables(table(['a'], [[1]]), table(['a'], [[1]]), { columns: ['zzz'] }),
    ).toThrow(/neither file/);
  });

  it('empty cells and NaN are missing; inf is a number outside every range', () => {
    const values = ref.slice(0, 200).map((v) => [v.toString()]);
    const current = cur
      .slice(0, 200)
      .map((v, i) => [i % 4 === 0 ? '' : i % 4 === 1 ? 'NaN' : i === 2 ? 'inf' : v.toString()]);
    const report = compareTables(table(['x'], values), table(['x'], current));
    const [x] = report.features;
    expect(x.type).toBe('numerical');
    expect(x.stats.missing_share_current).toBe(0.5);
    const finite = cur.slice(0, 200).filter((_, i) => i % 4 > 1 && i !== 2);
    expect(x.stats.ks_statistic).toBe(ksTwoSample(ref.slice(0, 200), finite).statistic);
    expectContract(report);
  });

  it('tiny and empty files yield insufficient data, never NaN', async () => {
    const header = file('header-only.csv', 'x,c\n');
    const one = file('one-row.csv', 'x,c\n1.5,a\n');
    for (const [a, b] of [
      [header, header],
      [one, one],
      [one, header],
    ]) {
      const report = await compareCsvFiles(a, b);
      expect(report.features.every((f) => f.status === 'insufficient_data')).toBe(true);
      expect(report.drift_share).toBeNull();
      expect(report.dataset_drift).toBe(false);
      expectContract(report);
    }
  });

  it('formats a fixed-width table', async () => {
    const report = await compareCsvFiles(
      join(__dirname, '..', '..', 'fixtures', 'stats', 'offline-reference.csv'),
      join(__dirname, '..', '..', 'fixtures', 'stats', 'offline-current.csv'),
    );
    const text = formatDriftTable(report);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(
      /^feature\s+type\s+method\s+score\s+threshold\s+drift\s+missing ref\s+missing cur$/,
    );
    expect(lines[1]).toMatch(/^-+( +-+)+$/);
    const body = lines.slice(2, 2 + report.features.length);
    expect(body.map((l) => l.split(/\s+/)[0])).toEqual(report.features.map((f) => f.name));
    // Columns line up: every row has the drift verdict at the same offset as the header.
    const driftAt = lines[0].indexOf('drift');
    expect(body.find((l) => l.startsWith('age'))?.slice(driftAt, driftAt + 5)).toBe('DRIFT');
    expect(body.find((l) => l.startsWith('sparse'))).toMatch(/insufficient data/);
    expect(text).toMatch(/Drifted features: 4 of 5 \(80\.0%\) - dataset drift: yes/);
  });
});
