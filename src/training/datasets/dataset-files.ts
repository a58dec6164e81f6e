import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { TensorSpec } from '../../onnx/tensor';
import type { Dataset } from '../trainers/dataset';
import { datasetRows } from '../trainers/dataset';
import { shortestFloat32 } from '../train-model';

/**
 * The files an external trainer reads: each part as CSV (header = feature names + target) and as
 * JSONL (one object per row, same keys), and `schema.json` describing both and the model Argus
 * expects back. Values are written as the shortest decimal that reads back as the same float32,
 * so a trainer sees exactly the numbers Argus evaluates with.
 */
export interface DatasetFileSet {
  directory: string;
  /** CSV and JSONL path per part written. */
  parts: Record<string, { csv: string; jsonl: string; rows: number }>;
  schema: string;
}

export interface DatasetFileSchema {
  task: Dataset['task'];
  features: string[];
  target: string;
  /** Classification: class names in model output order (the CSV holds the names). */
  classes: string[] | null;
  parts: Record<string, { csv: string; jsonl: string; rows: number }>;
  /** What the trainer must write: a loadable ONNX model with this signature. */
  expected_model: {
    path: string;
    inputs: TensorSpec[];
    /** Outputs the model must have (it may have more). */
    outputs: TensorSpec[];
  };
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replace(/"/g, '""')}"` : text;
}

async function writeLines(path: string, lines: Iterable<string>): Promise<void> {
  const stream = createWriteStream(path, { encoding: 'utf8' });
  for (const line of lines) {
    if (!stream.write(line + '\n')) await once(stream, 'drain');
  }
  stream.end();
  await once(stream, 'finish');
}

function targetOf(dataset: Dataset, classNames: string[] | null, row: number): string | number {
  if (dataset.task === 'classification') {
    return classNames?.[dataset.labels[row]] ?? String(dataset.labels[row]);
  }
  return shortestFloat32(dataset.targets[row * dataset.targetCount]);
}

function* csvLines(
  dataset: Dataset,
  featureNames: string[],
  target: string,
  classNames: string[] | null,
): Generator<string> {
  yield [...featureNames, target].map(csvField).join(',');
  const width = dataset.featureCount;
  for (let r = 0; r < datasetRows(dataset); r++) {
    const values: string[] = [];
    for (let j = 0; j < width; j++)
      values.push(String(shortestFloat32(dataset.features[r * width + j])));
    const t = targetOf(dataset, classNames, r);
    values.push(typeof t === 'string' ? csvField(t) : String(t));
    yield values.join(',');
  }
}

function* jsonLines(
  dataset: Dataset,
  featureNames: string[],
  target: string,
  classNames: string[] | null,
): Generator<string> {
  const width = dataset.featureCount;
  for (let r = 0; r < datasetRows(dataset); r++) {
    const row: Record<string, number | string> = {};
    for (let j = 0; j < width; j++) {
      row[featureNames[j]] = shortestFloat32(dataset.features[r * width + j]);
    }
    row[target] = targetOf(dataset, classNames, r);
    yield JSON.stringify(row);
  }
}

export async function writeDatasetFiles(options: {
  directory: string;
  parts: Record<string, Dataset>;
  featureNames: string[];
  target: string;
  classNames: string[] | null;
  modelPath: string;
  /** The signature the model must have (the champion's); default: Argus's own export. */
  expected?: { inputs: TensorSpec[]; outputs: TensorSpec[] };
}): Promise<DatasetFileSet> {
  const { directory, featureNames, target, classNames } = options;
  const parts: DatasetFileSet['parts'] = {};
  let task: Dataset['task'] = 'classification';
  let outputWidth = 0;
  for (const [name, dataset] of Object.entries(options.parts)) {
    task = dataset.task;
    outputWidth = dataset.task === 'classification' ? dataset.classCount : dataset.targetCount;
    const csv = join(directory, `${name}.csv`);
    const jsonl = join(directory, `${name}.jsonl`);
    await writeLines(csv, csvLines(dataset, featureNames, target, classNames));
    await writeLines(jsonl, jsonLines(dataset, featureNames, target, classNames));
    parts[name] = { csv, jsonl, rows: datasetRows(dataset) };
  }
  const schema: DatasetFileSchema = {
    task,
    features: featureNames,
    target,
    classes: classNames,
    parts,
    expected_model: {
      path: options.modelPath,
      inputs: options.expected?.inputs ?? [
        { name: 'input', datatype: 'FP32', shape: [-1, featureNames.length] },
      ],
      outputs:
        options.expected?.outputs ??
        (task === 'classification'
          ? [
              { name: 'probabilities', datatype: 'FP32', shape: [-1, outputWidth] },
              { name: 'label', datatype: 'INT64', shape: [-1] },
            ]
          : [{ name: 'value', datatype: 'FP32', shape: [-1, outputWidth] }]),
    },
  };
  const schemaPath = join(directory, 'schema.json');
  await writeFile(schemaPath, JSON.stringify(schema, null, 2));
  return { directory, parts, schema: schemaPath };
}
