import { InputLogging } from '../config/config';

/**
 * Which predicted rows keep their input values in the `predictions` table (ARGUS_LOG_INPUTS).
 *
 * - `full`: every row, as long as the row has at most `maxValues` input values;
 * - `sample:<rate>`: a row with probability `rate`, under the same width limit;
 * - `none`: no row.
 *
 * The width limit exists because `inputs` is stored per row: a 224×224×3 image is 150k floats,
 * which would make the log orders of magnitude larger than the scores it is there to explain.
 * The default (1024 values) keeps tabular models fully logged and drops images and embeddings.
 * The configuration cannot tell the default `full` from an explicit one, so the limit applies to
 * both; `maxValues: Infinity` switches it off.
 */
export const DEFAULT_MAX_LOGGED_INPUT_VALUES = 1024;

export interface InputSamplingPolicy {
  logging: InputLogging;
  /** Rows wider than this many input values are never logged. */
  maxValues: number;
}

export function inputSamplingPolicy(
  logging: InputLogging,
  maxValues = DEFAULT_MAX_LOGGED_INPUT_VALUES,
): InputSamplingPolicy {
  return { logging, maxValues };
}

/**
 * The decision for one row, as a pure function: `draw` is a uniform number in [0, 1) the caller
 * supplies (Math.random in production, a fixed sequence in tests), used only by `sample` mode.
 */
export function shouldLogRowInputs(
  policy: InputSamplingPolicy,
  width: number,
  draw: number,
): boolean {
  if (width > policy.maxValues) return false;
  switch (policy.logging.mode) {
    case 'full':
      return true;
    case 'none':
      return false;
    case 'sample':
      return draw < policy.logging.rate;
  }
}

/** The per-row decision with a random source bound in, as the inference path calls it. */
export class InputSampler {
  constructor(
    readonly policy: InputSamplingPolicy,
    private readonly random: () => number = Math.random,
  ) {}

  shouldLog(width: number): boolean {
    // Draw only when the answer depends on it, so `full` and `none` cost no random numbers.
    const draw = this.policy.logging.mode === 'sample' ? this.random() : 0;
    return shouldLogRowInputs(this.policy, width, draw);
  }
}
