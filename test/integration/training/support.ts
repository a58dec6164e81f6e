import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLASSIFIER_META } from '../../fixtures/models';
import type { TrainingJob } from '../../../src/training';
import { SeededRandom } from '../../../src/training';

/**
 * Shared by the training tests: generated data sets with the iris fixture's feature and class
 * names (so a trained candidate is comparable with `irisLikeClassifier`), and job polling.
 */

export const FEATURES = CLASSIFIER_META.feature_names;
export const CLASSES = CLASSIFIER_META.class_names;
export const EXTERNAL_TRAINER = join(__dirname, 'fixtures', 'external-trainer.js');

export interface IrisLikeRow {
  features: number[];
  species: string;
}

/** Three well-separated Gaussian blobs in 4 dimensions, classes in turn. */
export function irisLikeRows(count: number, seed: number, spread = 0.3): IrisLikeRow[] {
  const random = new SeededRandom(seed);
  const centres = [
    [5.0, 3.4, 1.5, 0.2],
    [5.9, 2.8, 4.3, 1.3],
    [6.6, 3.0, 5.6, 2.1],
  ];
  return Array.from({ length: count }, (_, i) => {
    const c = i % 3;
    return {
      features: centres[c].map((m) => Math.round((m + random.nextNormal() * spread) * 1000) / 1000),
      species: CLASSES[c],
    };
  });
}

export function writeIrisCsv(path: string, rows: IrisLikeRow[]): string {
  const lines = [[...FEATURES, 'species'].join(',')];
  for (const row of rows) lines.push([...row.features, row.species].join(','));
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

/** `rows` × `width` random features with a label that depends on them: a slow job to cancel. */
export function writeWideCsv(path: string, rows: number, width: number, seed: number): string {
  const random = new SeededRandom(seed);
  const names = Array.from({ length: width }, (_, j) => `f${j}`);
  const lines = [[...names, 'y'].join(',')];
  for (let i = 0; i < rows; i++) {
    const values = names.map(() => Math.round(random.nextNormal() * 1000) / 1000);
    lines.push([...values, values[0] + values[1] > 0 ? 'a' : 'b'].join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

export function isTerminal(job: Pick<TrainingJob, 'status'>): boolean {
  return ['succeeded', 'failed', 'cancelled'].includes(job.status);
}

/** Linux: a pid that has exited or is a zombie waiting to be reaped counts as gone. */
export function processGone(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (!existsSync(stat)) return true;
  try {
    const text = readFileSync(stat, 'utf8');
    // Field 3, after the parenthesised command name.
    return text.slice(text.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}
