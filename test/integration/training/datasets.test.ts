import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  classCounts,
  datasetContentSha256,
  loadFileDataset,
  naturalClassOrder,
  parseDuration,
  parseTrainingJobSpec,
  splitDataset,
  storableTrainingSpec,
} from '../../../src/training';
import { irisLikeRows, writeIrisCsv } from './support';

/** Data sets from files, the seeded split, and the job spec's parsing, on real files. */

describe('training data sets and specs', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'argus-datasets-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads CSV and JSONL alike: declared features in order, classes in natural order', async () => {
    const csv = file('d.csv', 'b,a,y,ignored\n1,2,10,x\n3,4,2,x\n5,6,10,x\n');
    const jsonl = file(
      'd.jsonl',
      ['{"a":2,"b":1,"y":10}', '', '{"b":3,"a":4,"y":2,"extra":"x"}', '{"y":10,"a":6,"b":5}'].join(
        '\n',
      ),
    );
    for (const path of [csv, jsonl]) {
      const loaded = await loadFileDataset({
        path,
        task: 'classification',
        target: 'y',
        features: ['a', 'b'],
      });
      expect(loaded.featureNames).toEqual(['a', 'b']);
      expect(loaded.classNames).toEqual(['2', '10']); // numeric names sort as numbers
      const { dataset } = loaded;
      if (dataset.task !== 'classification') throw new Error('classification expected');
      expect(Array.from(dataset.features)).toEqual([2, 1, 4, 3, 6, 5]);
      expect(Array.from(dataset.labels)).toEqual([1, 0, 1]);
      expect(loaded.fileSha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(naturalClassOrder(['b', 'a', 'B'])).toEqual(['B', 'a', 'b']);
  });

  it('names the file and line of every problem', async () => {
    const cases: Array<[string, string, 'classification' | 'regression', RegExp]> = [
      [
        'r.csv',
        'x,y\n1,2\n2,abc\n',
        'regression',
        /r\.csv:3: target 'y' is "abc", not a finite number/,
      ],
      [
        'm.csv',
        'x,y\n1,2\n,3\n',
        'regression',
        /m\.csv:3: feature 'x' is null, not a finite number/,
      ],
      ['t.csv', 'x,z\n1,2\n', 'regression', /t\.csv:2: no target column 'y' \(columns: x, z\)/],
      [
        'c.csv',
        'x,y\n1,a\n2,\n',
        'classification',
        /c\.csv:3: target 'y' is null; a class must be/,
      ],
      [
        'a.jsonl',
        '{"x":1,"y":2}\n[1,2]\n',
        'regression',
        /a\.jsonl:2: training rows must be JSON objects/,
      ],
      ['j.jsonl', '{"x":1,"y":2}\n{oops\n', 'regression', /j\.jsonl:2: not valid JSON/],
      ['f.csv', 'x,y\n1,2,3\n', 'regression', /f\.csv:2: 3 fields, the header has 2/],
      ['e.csv', 'x,y\n', 'regression', /holds no rows: the data set is empty/],
    ];
    for (const [name, text, task, message] of cases) {
      await expect(loadFileDataset({ path: file(name, text), task, target: 'y' })).rejects.toThrow(
        message,
      );
    }
    await expect(
      loadFileDataset({ path: file('ok.txt', 'x'), task: 'regression', target: 'y' }),
    ).rejects.toThrow(/use a \.csv or \.jsonl file/);
  });

  it('splits by seed, per class, the same way every time', async () => {
    const loaded = await loadFileDataset({
      path: writeIrisCsv(join(dir, 'iris.csv'), irisLikeRows(100, 5)),
      task: 'classification',
      target: 'species',
    });
    const options = { seed: 9, validationFraction: 0.2, testFraction: 0.2 };
    const a = splitDataset(loaded.dataset, options);
    const b = splitDataset(loaded.dataset, options);
    const c = splitDataset(loaded.dataset, { ...options, seed: 10 });
    expect(Array.from(a.indices.test)).toEqual(Array.from(b.indices.test));
    expect(Array.from(a.indices.test)).not.toEqual(Array.from(c.indices.test));
    const all = [...a.indices.train, ...a.indices.validation, ...a.indices.test].sort(
      (x, y) => x - y,
    );
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    if (a.test.task !== 'classification') throw new Error('classification expected');
    // 34 / 33 / 33 rows per class → 7 held out of each.
    expect(classCounts(a.test)).toEqual([7, 7, 7]);
    const names = loaded.featureNames;
    expect(datasetContentSha256(a.test, names, loaded.classNames)).toBe(
      datasetContentSha256(b.test, names, loaded.classNames),
    );
    expect(() => splitDataset(loaded.dataset, { ...options, testFraction: 0.9 })).toThrow(
      /test fraction must be within \(0, 0\.5\]/,
    );
  });

  it("reads the demo model's stored spec and round-trips every spec through its stored form", () => {
    const demo = parseTrainingJobSpec({ kind: 'mlp', hidden: [128], dataset: 'mnist' });
    expect(demo).toMatchObject({
      kind: 'mlp-classifier',
      data: { source: 'mnist' },
      options: { hiddenLayers: [128], maxEpochs: 5, batchSize: 128 },
    });
    const specs: unknown[] = [
      demo,
      parseTrainingJobSpec({
        kind: 'softmax',
        seed: 4,
        gate: { metric: 'macroF1', max_regression: 0.01, max_latency_ratio: 2 },
        data: { source: 'file', path: 'a.csv', target: 'y', features: ['p', 'q'] },
      }),
      parseTrainingJobSpec({
        kind: 'mlp-regressor',
        data: { source: 'log', since: '7d', version: 3, include_reference: true },
      }),
      parseTrainingJobSpec({
        kind: 'external',
        task: 'regression',
        command: 'python3 train.py --out {model}',
        timeout_s: 30,
        data: { source: 'log', from: '2024-01-01T00:00:00Z', to: 1704153600000 },
      }),
    ];
    for (const spec of specs) {
      const parsed = spec as ReturnType<typeof parseTrainingJobSpec>;
      expect(parseTrainingJobSpec(storableTrainingSpec(parsed))).toEqual(parsed);
    }
    expect(parseDuration('24h')).toBe(86_400_000);
    expect(parseDuration('90s')).toBe(90_000);
    expect(() => parseTrainingJobSpec({ kind: 'softmax', hidden: [3], data: 'mnist' })).toThrow(
      /softmax has no hidden layers/,
    );
    expect(() => parseTrainingJobSpec({ kind: 'mlp', timeout_s: 3, data: 'mnist' })).toThrow(
      /'timeout_s' only applies to kind external/,
    );
    expect(() => parseTrainingJobSpec({ kind: 'mlp', data: 'mnist', colour: 'red' })).toThrow(
      /the training spec has unknown key 'colour'/,
    );
  });
});
