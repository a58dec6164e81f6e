import { InvalidInputError } from '../../../src/common/errors';
import { TensorSpec } from '../../../src/onnx';
import {
  assertModelName,
  deriveModelDescription,
  parseRegistrationMetadata,
  parseVersion,
} from '../../../src/registry';

const input: TensorSpec[] = [{ name: 'input', datatype: 'FP32', shape: [-1, 4] }];
const classifierOutputs: TensorSpec[] = [
  { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
  { name: 'label', datatype: 'INT64', shape: [-1] },
];

describe('model names and versions', () => {
  it.each(['iris', 'fraud-v2', 'a.b_c', 'X9'])('accepts %s', (name) => {
    expect(() => assertModelName(name)).not.toThrow();
  });
  it.each(['', '../etc', 'a/b', '.hidden', 'a b', "x'; DROP", 'x'.repeat(129), 'a..b'])(
    'refuses %j',
    (name) => {
      expect(() => assertModelName(name)).toThrow(InvalidInputError);
    },
  );
  it('parses versions strictly', () => {
    expect(parseVersion('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'abc', '', '1e3'])
      expect(() => parseVersion(bad)).toThrow(/invalid model version/);
  });
});

describe('deriveModelDescription', () => {
  it('recognises a classifier and defaults class names to indices', () => {
    const d = deriveModelDescription(input, classifierOutputs, {});
    expect(d).toEqual({
      task: 'classification',
      feature_names: null,
      class_names: ['0', '1', '2'],
      primary_output: 'probabilities',
      label_output: 'label',
    });
  });

  it('recognises a regressor', () => {
    const d = deriveModelDescription(
      input,
      [{ name: 'value', datatype: 'FP32', shape: [-1, 1] }],
      {},
    );
    expect(d.task).toBe('regression');
    expect(d.primary_output).toBe('value');
  });

  it('refuses feature names that contradict the input width', () => {
    expect(() =>
      deriveModelDescription(input, classifierOutputs, { feature_names: ['a', 'b'] }),
    ).toThrow(/2 names but input 'input' has 4 features/);
  });

  it('refuses class names that contradict the output width', () => {
    expect(() =>
      deriveModelDescription(input, classifierOutputs, { class_names: ['a', 'b'] }),
    ).toThrow(/2 names but output 'probabilities' has 3 classes/);
  });

  it('refuses class names for a regressor and an unknown primary output', () => {
    const reg = [{ name: 'value', datatype: 'FP32' as const, shape: [-1, 1] }];
    expect(() => deriveModelDescription(input, reg, { class_names: ['a'] })).toThrow(/regression/);
    expect(() => deriveModelDescription(input, reg, { primary_output: 'nope' })).toThrow(
      /not an output/,
    );
  });
});

describe('parseRegistrationMetadata', () => {
  it('keeps known fields', () => {
    const m = parseRegistrationMetadata({
      task: 'classification',
      feature_names: ['a'],
      batching: { max_batch_size: 8, max_queue_delay_us: 0 },
      metadata: { owner: 'team' },
    });
    expect(m.batching).toEqual({ max_batch_size: 8, max_queue_delay_us: 0 });
    expect(m.metadata).toEqual({ owner: 'team' });
  });

  it.each([
    [[], /JSON object/],
    [{ colour: 'red' }, /unknown key 'colour'/],
    [{ task: 'clustering' }, /task/],
    [{ feature_names: ['a', 'a'] }, /twice/],
    [{ feature_names: [1] }, /non-empty strings/],
    [{ batching: { max_batch_size: 0 } }, /max_batch_size/],
    [{ metadata: 'x' }, /metadata.metadata must be an object/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseRegistrationMetadata(raw)).toThrow(message);
  });
});
