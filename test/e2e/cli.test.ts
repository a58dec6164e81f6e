import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLASSIFIER_META, irisLikeClassifier, linearRegressor } from '../fixtures/models';
import {
  classifierVariant,
  CliResult,
  ensureBuilt,
  randomRows,
  ReferenceModel,
  runCli,
  sha256,
  UUID,
} from './helpers';

interface OfflinePrediction {
  prediction_id: string;
  label?: string;
  probabilities?: number[];
  value?: number;
}

interface ListedModel {
  name: string;
  aliases: Record<string, number>;
  versions: Array<{ version: number; task: string; created_at: string; sha256: string }>;
}

const FEATURES = CLASSIFIER_META.feature_names;
const CLASSES = CLASSIFIER_META.class_names;

function readJsonl(path: string): OfflinePrediction[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as OfflinePrediction);
}

function csv(header: string[], rows: unknown[][]): string {
  return [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n';
}

describe('the argus CLI (real binary)', () => {
  let home: string;
  let work: string;
  const file = (name: string) => join(work, name);
  const argus = (...args: string[]): Promise<CliResult> => runCli(['--home', home, ...args]);
  const models = {
    v1: irisLikeClassifier(),
    v2: classifierVariant(77),
  };
  let ref1: ReferenceModel;
  let ref2: ReferenceModel;

  beforeAll(async () => {
    ensureBuilt();
    home = mkdtempSync(join(tmpdir(), 'argus-cli-home-'));
    work = mkdtempSync(join(tmpdir(), 'argus-cli-files-'));
    writeFileSync(file('v1.onnx'), models.v1);
    writeFileSync(file('v2.onnx'), models.v2);
    writeFileSync(file('regressor.onnx'), linearRegressor());
    writeFileSync(file('meta.json'), JSON.stringify(CLASSIFIER_META));
    ref1 = await ReferenceModel.load(models.v1);
    ref2 = await ReferenceModel.load(models.v2);
  }, 180_000);

  afterAll(async () => {
    await ref1?.release();
    await ref2?.release();
    for (const dir of [home, work]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('explains itself: --help and every subcommand --help exit 0 and name their options', async () => {
    const expectations: Array<[string[], string[]]> = [
      [[], ['--home', 'serve', 'models', 'predict']],
      [['serve'], ['--port']],
      [['models'], ['register', 'list', 'promote', 'delete']],
      [
        ['models', 'register'],
        ['--name', '--file', '--metadata', '--alias'],
      ],
      [['models', 'list'], ['list models']],
      [
        ['models', 'promote'],
        ['--name', '--version', '--alias'],
      ],
      [
        ['models', 'delete'],
        ['--name', '--version'],
      ],
      [['predict'], ['--model', '--version', '--input', '--output', '--chunk-rows']],
    ];
    const results: CliResult[] = [];
    for (let i = 0; i < expectations.length; i += 4) {
      const batch = expectations.slice(i, i + 4).map(([cmd]) => runCli([...cmd, '--help']));
      results.push(...(await Promise.all(batch)));
    }
    results.forEach((res, i) => {
      const [cmd, words] = expectations[i];
      expect({ cmd, code: res.code }).toEqual({ cmd, code: 0 });
      expect(res.stdout).toMatch(/^Usage: argus/);
      for (const word of words)
        expect({ cmd, word, found: res.stdout.includes(word) }).toEqual({
          cmd,
          word,
          found: true,
        });
    });
  });

  describe('models', () => {
    it('registers versions 1 and 2 and prints { name, version }', async () => {
      const first = await argus(
        'models',
        'register',
        '--name',
        'iris',
        '--file',
        file('v1.onnx'),
        '--metadata',
        file('meta.json'),
        '--alias',
        'champion',
      );
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(JSON.parse(first.stdout)).toEqual({ name: 'iris', version: 1 });

      const second = await argus(
        'models',
        'register',
        '--name',
        'iris',
        '--file',
        file('v2.onnx'),
        '--metadata',
        file('meta.json'),
      );
      expect(second.code).toBe(0);
      expect(JSON.parse(second.stdout)).toEqual({ name: 'iris', version: 2 });

      const dir = join(home, 'models', 'iris', '2');
      expect(sha256(readFileSync(join(dir, 'model.onnx')))).toBe(sha256(models.v2));
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as {
        feature_names: string[];
        class_names: string[];
      };
      expect(manifest.feature_names).toEqual(FEATURES);
      expect(manifest.class_names).toEqual(CLASSES);
    });

    it('lists models with versions and aliases', async () => {
      const res = await argus('models', 'list');
      expect(res.code).toBe(0);
      const list = JSON.parse(res.stdout) as ListedModel[];
      expect(list).toHaveLength(1);
      expect(list[0].name).toBe('iris');
      expect(list[0].aliases).toEqual({ champion: 1 });
      expect(list[0].versions.map((v) => [v.version, v.task, v.sha256])).toEqual([
        [1, 'classification', sha256(models.v1)],
        [2, 'classification', sha256(models.v2)],
      ]);
    });

    it('promotes a version', async () => {
      const res = await argus('models', 'promote', '--name', 'iris', '--version', '2');
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout)).toEqual({ name: 'iris', aliases: { champion: 2 } });
      const challenger = await argus(
        'models',
        'promote',
        '--name',
        'iris',
        '--version',
        '1',
        '--alias',
        'challenger',
      );
      expect(challenger.code).toBe(0);
      expect(JSON.parse(challenger.stdout)).toEqual({
        name: 'iris',
        aliases: { champion: 2, challenger: 1 },
      });
      const missing = await argus('models', 'promote', '--name', 'iris', '--version', '9');
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/model 'iris' version 9 not found/);
    });

    it('refuses to delete the champion (exit 2) and deletes another version', async () => {
      const refused = await argus('models', 'delete', '--name', 'iris', '--version', '2');
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/version 2 is the champion of 'iris'/);
      expect(existsSync(join(home, 'models', 'iris', '2', 'model.onnx'))).toBe(true);

      const third = await argus('models', 'register', '--name', 'iris', '--file', file('v1.onnx'));
      expect(JSON.parse(third.stdout)).toEqual({ name: 'iris', version: 3 });
      const deleted = await argus('models', 'delete', '--name', 'iris', '--version', '3');
      expect(deleted.code).toBe(0);
      expect(JSON.parse(deleted.stdout)).toEqual({ name: 'iris', deleted: 3 });
      expect(existsSync(join(home, 'models', 'iris', '3'))).toBe(false);
    });

    it('refuses a file that is not ONNX, says why, and writes nothing', async () => {
      writeFileSync(file('notes.onnx'), 'sepal_length,sepal_width\n5.1,3.5\n');
      const res = await argus('models', 'register', '--name', 'junk', '--file', file('notes.onnx'));
      expect(res.code).not.toBe(0);
      expect(res.stdout).toBe('');
      expect(res.stderr).toMatch(/not a loadable ONNX model/);
      expect(existsSync(join(home, 'models', 'junk'))).toBe(false);

      const missing = await argus(
        'models',
        'register',
        '--name',
        'junk',
        '--file',
        file('nope.onnx'),
      );
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/cannot read model file/);
    });

    it('refuses metadata that contradicts the model and writes nothing', async () => {
      const cases: Array<[string, unknown, RegExp]> = [
        ['features', { feature_names: ['a', 'b', 'c'] }, /feature_names has 3 names but input/],
        ['classes', { class_names: ['a', 'b'] }, /class_names has 2 names but output/],
        ['unknown', { owner: 'me' }, /unknown key 'owner'/],
      ];
      for (const [label, meta, message] of cases) {
        writeFileSync(file(`meta-${label}.json`), JSON.stringify(meta));
        const res = await argus(
          'models',
          'register',
          '--name',
          `contra_${label}`,
          '--file',
          file('v1.onnx'),
          '--metadata',
          file(`meta-${label}.json`),
        );
        expect({ label, code: res.code }).toEqual({ label, code: 2 });
        expect(res.stderr).toMatch(message);
        expect(existsSync(join(home, 'models', `contra_${label}`))).toBe(false);
      }
      writeFileSync(file('meta-broken.json'), '{"task": ');
      const broken = await argus(
        'models',
        'register',
        '--name',
        'contra_broken',
        '--file',
        file('v1.onnx'),
        '--metadata',
        file('meta-broken.json'),
      );
      expect(broken.code).toBe(2);
      expect(broken.stderr).toMatch(/metadata file .* is not valid JSON/);
    });
  });

  describe('predict', () => {
    const rows = randomRows(40, 4, 11).map((r) => r.map((v) => v * 2 + 3));

    async function expectPredictions(out: string, inputRows: number[][], ref: ReferenceModel) {
      const predictions = readJsonl(out);
      expect(predictions).toHaveLength(inputRows.length);
      const expected = await ref.runRows(inputRows);
      predictions.forEach((p, r) => {
        expect(p.prediction_id).toMatch(UUID);
        expect(p.label).toBe(CLASSES[expected.label[r][0]]);
        expect(p.probabilities).toHaveLength(3);
        p.probabilities!.forEach((v, k) => expect(v).toBeCloseTo(expected.probabilities[r][k], 5));
      });
      expect(new Set(predictions.map((p) => p.prediction_id)).size).toBe(inputRows.length);
    }

    it('predicts a CSV with a header of feature names (any column order) on the champion', async () => {
      // Columns in a different order from the model's features: the header decides.
      const order = [2, 0, 3, 1];
      writeFileSync(
        file('rows.csv'),
        csv(
          order.map((i) => FEATURES[i]),
          rows.map((r) => order.map((i) => r[i])),
        ),
      );
      const res = await argus(
        'predict',
        '--model',
        'iris',
        '--input',
        file('rows.csv'),
        '--output',
        file('out-csv.jsonl'),
      );
      expect(res.code).toBe(0);
      expect(res.stderr).toMatch(/40 rows predicted by iris@2/);
      await expectPredictions(file('out-csv.jsonl'), rows, ref2);
    });

    it('predicts JSONL with arrays and named objects, on a pinned version', async () => {
      const lines = rows.map((r, i) =>
        i % 2 === 0
          ? JSON.stringify(r)
          : JSON.stringify(Object.fromEntries(FEATURES.map((f, k) => [f, r[k]]).reverse())),
      );
      writeFileSync(file('rows.jsonl'), lines.join('\n') + '\n');
      const res = await argus(
        'predict',
        '--model',
        'iris',
        '--version',
        '1',
        '--chunk-rows',
        '7',
        '--input',
        file('rows.jsonl'),
        '--output',
        file('out-jsonl.jsonl'),
      );
      expect(res.code).toBe(0);
      expect(res.stderr).toMatch(/40 rows predicted by iris@1/);
      await expectPredictions(file('out-jsonl.jsonl'), rows, ref1);
    });

    it('exits 2 on a bad row and names the file line', async () => {
      const good = rows.slice(0, 5).map((r) => r.join(','));
      const cases: Array<[string, string, RegExp]> = [
        [
          'text.csv',
          [FEATURES.join(','), good[0], good[1], '5.1,abc,1.4,0.2', good[2]].join('\n'),
          /text\.csv:4: .*must be a number, got the string "abc"/,
        ],
        [
          'nan.csv',
          [FEATURES.join(','), 'NaN,3.5,1.4,0.2', good[0]].join('\n'),
          /nan\.csv:2: .*is NaN; values must be finite/,
        ],
        [
          'inf.csv',
          [FEATURES.join(','), good[0], good[1], '5.1,Infinity,1.4,0.2'].join('\n'),
          /inf\.csv:4: .*is Infinity; values must be finite/,
        ],
        [
          'fields.csv',
          [FEATURES.join(','), good[0], '5.1,3.5,1.4'].join('\n'),
          /fields\.csv:3: 3 fields, the header has 4/,
        ],
        [
          'short.jsonl',
          ['[5.1, 3.5, 1.4, 0.2]', '[1, 2, 3, 4]', '[5.1, 3.5]'].join('\n'),
          /short\.jsonl:3: row has 2 values; the model expects 4 features/,
        ],
        [
          'broken.jsonl',
          ['[5.1, 3.5, 1.4, 0.2]', '{"sepal_length": 5.1,'].join('\n'),
          /broken\.jsonl:2: not valid JSON/,
        ],
        [
          'unknown.jsonl',
          ['[5.1, 3.5, 1.4, 0.2]', '[1, 2, 3, 4]', '{"sepal_length": 1, "colour": 2}'].join('\n'),
          /unknown\.jsonl:3: row has unknown features: colour/,
        ],
        [
          'names.jsonl',
          ['[5.1, 3.5, 1.4, 0.2]', '{"a": 1, "b": 2, "c": 3, "d": 4}'].join('\n'),
          /names\.jsonl:2: row has unknown features: a, b, c, d/,
        ],
        [
          'typo.csv',
          ['sepal_length,sepal_width,petal_lenght,petal_width', good[0]].join('\n'),
          /typo\.csv:2: row has unknown features: petal_lenght/,
        ],
      ];
      // Three processes at a time: the machine's cores are shared.
      const results: CliResult[] = [];
      for (let i = 0; i < cases.length; i += 3) {
        const batch = cases.slice(i, i + 3).map(([name, content]) => {
          writeFileSync(file(name), content + '\n');
          return argus(
            'predict',
            '--model',
            'iris',
            '--input',
            file(name),
            '--output',
            file(`${name}.out`),
          );
        });
        results.push(...(await Promise.all(batch)));
      }
      results.forEach((res, i) => {
        const [name, , message] = cases[i];
        expect({ name, code: res.code }).toEqual({ name, code: 2 });
        expect({ name, stderr: res.stderr }).toEqual({
          name,
          stderr: expect.stringMatching(message) as string,
        });
      });
    });

    it('streams a 50,000-row CSV', async () => {
      const n = 50_000;
      const big = randomRows(n, 4, 2024).map((r) => r.map((v) => v * 2 + 3));
      writeFileSync(file('big.csv'), csv(FEATURES, big));
      const res = await argus(
        'predict',
        '--model',
        'iris',
        '--input',
        file('big.csv'),
        '--output',
        file('big.jsonl'),
      );
      expect(res.code).toBe(0);
      expect(res.stderr).toMatch(/50000 rows predicted by iris@2/);
      const predictions = readJsonl(file('big.jsonl'));
      expect(predictions).toHaveLength(n);
      const expected = await ref2.runRows(big);
      const labels = predictions.map((p) => p.label);
      expect(labels).toEqual(expected.label.map((l) => CLASSES[l[0]]));
    }, 120_000);
  });

  it('runs the regressor offline with values', async () => {
    const reg = await argus(
      'models',
      'register',
      '--name',
      'lin',
      '--file',
      file('regressor.onnx'),
    );
    expect(JSON.parse(reg.stdout)).toEqual({ name: 'lin', version: 1 });
    writeFileSync(file('lin.jsonl'), '[1, 1, 1]\n[0, 0, 0]\n');
    const res = await argus(
      'predict',
      '--model',
      'lin',
      '--input',
      file('lin.jsonl'),
      '--output',
      file('lin.out.jsonl'),
    );
    expect(res.code).toBe(0);
    const values = readJsonl(file('lin.out.jsonl')).map((p) => p.value!);
    expect(values[0]).toBeCloseTo(6.5, 5);
    expect(values[1]).toBeCloseTo(0.5, 5);
  });
});
