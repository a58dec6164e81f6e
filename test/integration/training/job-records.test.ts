import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HEARTBEAT_STALE_MS,
  isOrphaned,
  JobFiles,
  JobStatus,
  TrainingJob,
} from '../../../src/training';

/** Job records on disk, and how a process decides that another one's job is dead. */

function record(overrides: Partial<TrainingJob> = {}): TrainingJob {
  const now = new Date().toISOString();
  return {
    id: '0f0f0f0f-1111-4222-8333-444455556666',
    model: 'iris',
    kind: 'mlp-classifier',
    status: 'running',
    progress: null,
    metrics: null,
    logs: [],
    logs_dropped: 0,
    error: null,
    candidate_version: null,
    parent_version: null,
    gate: null,
    dataset: null,
    spec: {},
    created_at: now,
    started_at: now,
    finished_at: null,
    heartbeat_at: now,
    owner: { pid: process.ppid, host: hostname(), instance: 'elsewhere' },
    ...overrides,
  };
}

describe('training job records', () => {
  let home: string;

  beforeAll(() => {
    home = mkdtempSync(join(tmpdir(), 'argus-job-records-'));
  });

  afterAll(() => {
    rmSync(home, { recursive: true, force: true });
  });

  it('tells live jobs from orphaned ones', () => {
    const stale = new Date(Date.now() - HEARTBEAT_STALE_MS - 1000).toISOString();
    const cases: Array<[string, TrainingJob, boolean]> = [
      ['a live process on this host', record(), false],
      [
        'a finished job',
        record({ status: 'failed' as JobStatus, owner: { pid: 0, host: '', instance: '' } }),
        false,
      ],
      ['no owner', record({ owner: undefined as unknown as TrainingJob['owner'] }), true],
      [
        'a dead process on this host',
        record({ owner: { pid: 2 ** 22 + 17, host: hostname(), instance: 'x' } }),
        true,
      ],
      [
        'this process, an instance that is gone',
        record({ owner: { pid: process.pid, host: hostname(), instance: 'gone' } }),
        true,
      ],
      [
        'another host, fresh heartbeat',
        record({ owner: { pid: 1, host: 'other-host', instance: 'x' } }),
        false,
      ],
      [
        'another host, stale heartbeat',
        record({ heartbeat_at: stale, owner: { pid: 1, host: 'other-host', instance: 'x' } }),
        true,
      ],
      ['a live pid with a stale heartbeat (pid reused)', record({ heartbeat_at: stale }), true],
    ];
    for (const [name, job, orphaned] of cases) {
      expect({ name, orphaned: isOrphaned(job) }).toEqual({ name, orphaned });
    }
  });

  it('writes records atomically, lists them newest first and skips unreadable files', async () => {
    const files = new JobFiles(home);
    const older = record({
      id: 'aaaaaaaa-1111-4222-8333-444455556666',
      created_at: '2024-01-01T00:00:00.000Z',
    });
    const newer = record({
      id: 'bbbbbbbb-1111-4222-8333-444455556666',
      created_at: '2024-01-02T00:00:00.000Z',
    });
    await files.write(older);
    await files.write(newer);
    await files.write({ ...newer, status: 'succeeded' });
    writeFileSync(join(files.directory, 'cccccccc-1111-4222-8333-444455556666.json'), '{"half": ');
    writeFileSync(join(files.directory, 'notes.json'), '{}');

    const all = await files.readAll();
    expect(all.map((j) => [j.id, j.status])).toEqual([
      [newer.id, 'succeeded'],
      [older.id, 'running'],
    ]);
    expect(await files.read('../../etc/passwd')).toBeUndefined();
    expect(readdirSync(files.directory).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
