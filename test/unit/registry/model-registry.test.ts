import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxRuntime } from '../../../src/onnx';
import { ModelRegistry } from '../../../src/registry';
import { CLASSIFIER_META, irisLikeClassifier, linearRegressor } from '../../fixtures/models';

describe('ModelRegistry on disk', () => {
  let home: string;
  let registry: ModelRegistry;

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'argus-registry-'));
    registry = new ModelRegistry({ home }, new OnnxRuntime());
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('numbers versions 1, 2, 3 and never reuses a deleted number', async () => {
    expect((await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META)).version).toBe(
      1,
    );
    expect((await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META)).version).toBe(
      2,
    );
    await registry.deleteVersion('iris', 2);
    expect((await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META)).version).toBe(
      3,
    );
    expect((await registry.getModel('iris')).versions.map((v) => v.version)).toEqual([1, 3]);
  });

  it('allocates distinct versions to concurrent registrations', async () => {
    const versions = await Promise.all(
      Array.from({ length: 5 }, () => registry.register('reg', linearRegressor(), {})),
    );
    expect(versions.map((m) => m.version).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('awaits change handlers, so a caller returns after the runtime switched', async () => {
    const seen: string[] = [];
    registry.onChange(async (name) => {
      await new Promise((r) => setTimeout(r, 20));
      seen.push(name);
    });
    await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META, { alias: 'champion' });
    expect(seen).toContain('iris');
  });

  it('stores artifacts with a version and refuses unsafe artifact names', async () => {
    const m = await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META, {
      artifacts: { 'reference-sample.json': '[[1,2,3,4]]' },
    });
    expect(
      (await registry.readArtifact('iris', m.version, 'reference-sample.json'))?.toString(),
    ).toBe('[[1,2,3,4]]');
    expect(await registry.readArtifact('iris', m.version, 'missing.json')).toBeUndefined();
    await expect(
      registry.register('iris', irisLikeClassifier(), CLASSIFIER_META, {
        artifacts: { '../escape': 'x' },
      }),
    ).rejects.toThrow(/artifact file name/);
    await expect(
      registry.register('iris', irisLikeClassifier(), CLASSIFIER_META, {
        artifacts: { 'manifest.json': 'x' },
      }),
    ).rejects.toThrow(/artifact file name/);
  });

  it('refuses a model whose bytes changed after registration', async () => {
    const m = await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(home, 'models', 'iris', String(m.version), 'model.onnx'), linearRegressor());
    await expect(registry.readModel('iris', m.version)).rejects.toThrow(/sha256/);
  });

  it('leaves no temporary directories behind after a refused registration', async () => {
    await expect(registry.register('iris', Buffer.from('not onnx'), {})).rejects.toThrow(
      /not a loadable ONNX model/,
    );
    await registry.register('iris', irisLikeClassifier(), CLASSIFIER_META);
    expect(readdirSync(join(home, 'models', 'iris')).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
