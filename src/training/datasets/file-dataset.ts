import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { fileFormat, readRows } from '../../cli/row-source';
import { InvalidInputError } from '../../common/errors';
import type { Dataset, Task } from '../trainers/dataset';
import { GrowableFloat32, GrowableInt32 } from './growable';

/**
 * A training data set from a CSV (with a header) or JSONL (one object per line) file: declared
 * feature columns and one target column. Read as a stream, so only the parsed float32 rows are
 * held in memory. Every problem names the file and line.
 */
export interface FileDatasetOptions {
  path: string;
  task: Task;
  /** The column holding the class (classification) or the value (regression). */
  target: string;
  /** Feature columns in model input order; default: every column except the target. */
  features?: readonly string[] | null;
  /**
   * Classification: the classes in output order (the model's, or declared). A row with another
   * class is refused. Default: the classes found in the data, in natural order.
   */
  classNames?: readonly string[] | null;
}

export interface FileDataset {
  dataset: Dataset;
  featureNames: string[];
  /** null for regression. */
  classNames: string[] | null;
  format: 'csv' | 'jsonl';
  /** sha256 of the file's bytes. */
  fileSha256: string;
}

/** "2" < "10" for numeric names, plain code-point order otherwise: stable on every machine. */
export function naturalClassOrder(names: Iterable<string>): string[] {
  const list = [...new Set(names)];
  const numeric = list.every((n) => n.trim() !== '' && Number.isFinite(Number(n)));
  return numeric
    ? list.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0))
    : list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A class label as text: strings as they are, integers and booleans spelled out. */
export function classLabelOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function loadFileDataset(options: FileDatasetOptions): Promise<FileDataset> {
  const { path, task, target } = options;
  const format = fileFormat(path);
  try {
    await access(path);
  } catch {
    throw new InvalidInputError(`cannot read the data file '${path}': it does not exist`);
  }
  if (typeof target !== 'string' || target === '') {
    throw new InvalidInputError('the data set needs a target column');
  }
  let featureNames = options.features ? [...options.features] : null;
  if (featureNames?.includes(target)) {
    throw new InvalidInputError(`'${target}' is both the target and a feature`);
  }
  const declaredClasses = options.classNames ? [...options.classNames] : null;
  const classIndex = new Map<string, number>((declaredClasses ?? []).map((n, i) => [n, i]));
  const features = new GrowableFloat32();
  const labels = new GrowableInt32();
  const targets = new GrowableFloat32();
  let rows = 0;

  for await (const row of readRows(path)) {
    const where = `${path}:${row.line}`;
    if (!('named' in row)) {
      throw new InvalidInputError(
        `${where}: training rows must be JSON objects keyed by column name, not arrays`,
      );
    }
    const named = row.named;
    if (featureNames === null) {
      featureNames = Object.keys(named).filter((k) => k !== target);
      if (featureNames.length === 0) {
        throw new InvalidInputError(`${where}: no feature columns besides the target '${target}'`);
      }
    }
    if (!(target in named)) {
      throw new InvalidInputError(
        `${where}: no target column '${target}' (columns: ${Object.keys(named).join(', ')})`,
      );
    }
    for (const name of featureNames) {
      const value = named[name];
      if (value === undefined) {
        throw new InvalidInputError(`${where}: no feature column '${name}'`);
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new InvalidInputError(
          `${where}: feature '${name}' is ${describe(value)}, not a finite number`,
        );
      }
      features.push(value);
    }
    const raw = named[target];
    if (task === 'classification') {
      const label = classLabelOf(raw);
      if (label === undefined) {
        throw new InvalidInputError(
          `${where}: target '${target}' is ${describe(raw)}; a class must be a string, an integer or a boolean`,
        );
      }
      let index = classIndex.get(label);
      if (index === undefined) {
        if (declaredClasses) {
          throw new InvalidInputError(
            `${where}: class ${describe(label)} is not one of the model's classes (${declaredClasses.join(', ')})`,
          );
        }
        index = classIndex.size;
        classIndex.set(label, index);
      }
      labels.push(index);
    } else {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        throw new InvalidInputError(
          `${where}: target '${target}' is ${describe(raw)}, not a finite number`,
        );
      }
      targets.push(raw);
    }
    rows++;
  }
  if (rows === 0 || featureNames === null) {
    throw new InvalidInputError(`the data file '${path}' holds no rows: the data set is empty`);
  }
  const featureCount = featureNames.length;
  const fileSha256 = await sha256OfFile(path);
  if (task === 'regression') {
    return {
      dataset: {
        task: 'regression',
        features: features.toArray(),
        featureCount,
        targets: targets.toArray(),
        targetCount: 1,
      },
      featureNames,
      classNames: null,
      format,
      fileSha256,
    };
  }
  let classNames: string[];
  let labelArray = labels.toArray();
  if (declaredClasses) {
    classNames = declaredClasses;
  } else {
    // Found in order of appearance; renumber into natural order so the output does not depend on
    // which class the file happens to start with.
    const found = [...classIndex.keys()];
    classNames = naturalClassOrder(found);
    const remap = found.map((name) => classNames.indexOf(name));
    labelArray = labelArray.map((label) => remap[label]);
  }
  return {
    dataset: {
      task: 'classification',
      features: features.toArray(),
      featureCount,
      labels: labelArray,
      classCount: classNames.length,
    },
    featureNames,
    classNames,
    format,
    fileSha256,
  };
}
