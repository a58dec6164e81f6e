import {
  DEFAULT_MAX_LOGGED_INPUT_VALUES,
  InputSampler,
  inputSamplingPolicy,
  shouldLogRowInputs,
} from '../../../src/predictions/input-sampling';

describe('input logging policy', () => {
  it('full (the default) logs rows of up to 1024 values and none wider', () => {
    const policy = inputSamplingPolicy({ mode: 'full' });
    expect(DEFAULT_MAX_LOGGED_INPUT_VALUES).toBe(1024);
    expect(shouldLogRowInputs(policy, 4, 0.99)).toBe(true);
    expect(shouldLogRowInputs(policy, 1024, 0.99)).toBe(true);
    expect(shouldLogRowInputs(policy, 1025, 0)).toBe(false);
    expect(shouldLogRowInputs(policy, 224 * 224 * 3, 0)).toBe(false);
  });

  it('none logs no row', () => {
    const policy = inputSamplingPolicy({ mode: 'none' });
    expect(shouldLogRowInputs(policy, 1, 0)).toBe(false);
    expect(shouldLogRowInputs(policy, 1024, 0)).toBe(false);
  });

  it('sample:<rate> logs a row when its draw falls under the rate, within the width limit', () => {
    const policy = inputSamplingPolicy({ mode: 'sample', rate: 0.25 });
    expect(shouldLogRowInputs(policy, 8, 0)).toBe(true);
    expect(shouldLogRowInputs(policy, 8, 0.2499)).toBe(true);
    expect(shouldLogRowInputs(policy, 8, 0.25)).toBe(false);
    expect(shouldLogRowInputs(policy, 8, 0.9)).toBe(false);
    expect(shouldLogRowInputs(policy, 2048, 0)).toBe(false);
  });

  it('the width limit is configurable and can be switched off', () => {
    expect(shouldLogRowInputs(inputSamplingPolicy({ mode: 'full' }, 8), 9, 0)).toBe(false);
    expect(shouldLogRowInputs(inputSamplingPolicy({ mode: 'full' }, Infinity), 1e6, 0)).toBe(true);
  });

  it('InputSampler keeps the sampled fraction of rows and draws only in sample mode', () => {
    // A deterministic uniform sequence: k/1000 for k = 0..999.
    let k = 0;
    const draws = () => (k++ % 1000) / 1000;
    const sampler = new InputSampler(inputSamplingPolicy({ mode: 'sample', rate: 0.1 }), draws);
    let kept = 0;
    for (let i = 0; i < 1000; i++) if (sampler.shouldLog(16)) kept++;
    expect(kept).toBe(100);

    let drawn = 0;
    const counting = () => {
      drawn++;
      return 0;
    };
    const full = new InputSampler(inputSamplingPolicy({ mode: 'full' }), counting);
    expect(full.shouldLog(16)).toBe(true);
    expect(drawn).toBe(0);
  });
});
