import { appendFileSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../../src/predictions/crc32';
import { PredictionRecord } from '../../../src/predictions/prediction-record';
import {
  encodeSpoolFrame,
  FRAME_HEADER_BYTES,
  segmentFileName,
  Spool,
  SpoolBatch,
  SpoolProblem,
} from '../../../src/predictions/spool';
import { FaultyFileSystem, prediction, predictions, segmentFiles, tempHome } from './support';

/** Reads and acknowledges everything in the spool; returns the ids in delivery order. */
async function drain(spool: Spool<PredictionRecord>, maxRows = 1000): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const batch: SpoolBatch<PredictionRecord> | undefined = await spool.read(maxRows);
    if (!batch) return ids;
    for (const row of batch.rows) ids.push(row.id);
    await spool.acknowledge(batch);
  }
}

function ids(records: PredictionRecord[]): string[] {
  return records.map((r) => r.id);
}

describe('crc32', () => {
  it('matches the standard check value and detects a flipped bit', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    expect(crc32(Buffer.from('123456788'))).not.toBe(0xcbf43926);
  });
});

describe('Spool', () => {
  let home: string;
  let cleanup: () => void;
  let problems: SpoolProblem[];
  const open = (options: Partial<ConstructorParameters<typeof Spool>[0]> = {}) =>
    new Spool<PredictionRecord>({
      directory: join(home, 'spool'),
      onProblem: (p) => problems.push(p),
      ...options,
    });

  beforeEach(() => {
    ({ home, cleanup } = tempHome());
    problems = [];
  });
  afterEach(() => cleanup());

  it('frames a batch as [length u32 LE][crc32 u32 LE][JSON payload]', () => {
    const rows = [prediction(1, 1000), prediction(2, 500)];
    const frame = encodeSpoolFrame(rows);
    const length = frame.readUInt32LE(0);
    expect(length).toBe(frame.length - FRAME_HEADER_BYTES);
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    expect(frame.readUInt32LE(4)).toBe(crc32(payload));
    expect(JSON.parse(payload.toString('utf8'))).toEqual({ v: 1, ts: 500, rows });
  });

  it('gives back appended batches oldest first and deletes a segment only once acknowledged', async () => {
    const spool = open();
    await spool.append(predictions(0, 3), false);
    await spool.append(predictions(3, 2), false);
    expect(spool.hasBacklog).toBe(true);
    const batch = await spool.read(1000);
    expect(ids(batch!.rows)).toEqual(ids(predictions(0, 5)));
    // Read but not acknowledged: still on disk.
    expect(segmentFiles(join(home, 'spool'))).toHaveLength(1);
    await spool.acknowledge(batch!);
    expect(segmentFiles(join(home, 'spool'))).toHaveLength(0);
    expect(spool.hasBacklog).toBe(false);
    expect(spool.stats()).toMatchObject({ bytes: 0, segments: 0 });
  });

  it('rotates segments by size and deletes each as its last frame is acknowledged', async () => {
    const spool = open({ segmentBytes: 2048 });
    for (let i = 0; i < 20; i++) await spool.append(predictions(i * 3, 3), false);
    const dir = join(home, 'spool');
    const before = segmentFiles(dir);
    expect(before.length).toBeGreaterThan(3);
    expect(spool.stats().segments).toBe(before.length);

    const first = await spool.read(3);
    expect(ids(first!.rows)).toEqual(ids(predictions(0, 3)));
    await spool.acknowledge(first!);
    // The first segment still holds unacknowledged frames.
    expect(segmentFiles(dir)).toEqual(before);

    const rest = await drain(spool, 3);
    expect([...ids(first!.rows), ...rest]).toEqual(ids(predictions(0, 60)));
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('skips a torn last record (a crash mid-write) and keeps every whole frame', async () => {
    const writer = open();
    await writer.append(predictions(0, 2), false);
    await writer.append(predictions(2, 2), false);
    await writer.close();
    const [segment] = segmentFiles(join(home, 'spool'));
    const path = join(home, 'spool', segment);
    // Half of a third frame: the header claims more bytes than the file has.
    const torn = encodeSpoolFrame(predictions(4, 2));
    appendFileSync(path, torn.subarray(0, Math.floor(torn.length / 2)));

    const reader = open();
    expect(await drain(reader)).toEqual(ids(predictions(0, 4)));
    expect(reader.stats().tornTails).toBe(1);
    expect(problems.filter((p) => p.kind === 'torn_tail')).toHaveLength(1);
    expect(segmentFiles(join(home, 'spool'))).toEqual([]);
  });

  it('skips a torn tail shorter than a frame header', async () => {
    const writer = open();
    await writer.append(predictions(0, 2), false);
    await writer.close();
    const [segment] = segmentFiles(join(home, 'spool'));
    appendFileSync(join(home, 'spool', segment), Buffer.from([7, 0, 0]));

    const reader = open();
    expect(await drain(reader)).toEqual(ids(predictions(0, 2)));
    expect(reader.stats().tornTails).toBe(1);
  });

  it('skips a frame whose CRC does not match, counts it, and reads on', async () => {
    const writer = open();
    await writer.append(predictions(0, 2), false);
    await writer.append(predictions(2, 2), false);
    await writer.append(predictions(4, 2), false);
    await writer.close();
    const [segment] = segmentFiles(join(home, 'spool'));
    const path = join(home, 'spool', segment);
    const bytes = readFileSync(path);
    const firstFrame = FRAME_HEADER_BYTES + bytes.readUInt32LE(0);
    // Flip one byte inside the second frame's payload.
    bytes[firstFrame + FRAME_HEADER_BYTES + 20] ^= 0x01;
    writeFileSync(path, bytes);

    const reader = open();
    expect(await drain(reader)).toEqual(ids([...predictions(0, 2), ...predictions(4, 2)]));
    expect(reader.stats().corruptFrames).toBe(1);
    expect(reader.stats().tornTails).toBe(0);
    expect(problems.filter((p) => p.kind === 'corrupt_frame')).toHaveLength(1);
  });

  it('counts a damaged frame once even when its range is read again after a failed delivery', async () => {
    const writer = open();
    await writer.append(predictions(0, 2), false);
    await writer.append(predictions(2, 2), false);
    await writer.close();
    const path = join(home, 'spool', segmentFiles(join(home, 'spool'))[0]);
    const bytes = readFileSync(path);
    bytes[FRAME_HEADER_BYTES + 10] ^= 0xff; // first frame
    writeFileSync(path, bytes);

    const reader = open();
    const once = await reader.read(1000);
    const again = await reader.read(1000); // not acknowledged: the same rows come back
    expect(ids(again!.rows)).toEqual(ids(once!.rows));
    expect(reader.stats().corruptFrames).toBe(1);
  });

  it('tolerates a segment that disappears during replay', async () => {
    const writer = open({ segmentBytes: 1 }); // every append seals its segment
    await writer.append(predictions(0, 2), false);
    await writer.append(predictions(2, 2), false);
    await writer.append(predictions(4, 2), false);
    await writer.close();
    const files = segmentFiles(join(home, 'spool'));
    expect(files).toHaveLength(3);

    const reader = open();
    const first = await reader.read(1000);
    expect(ids(first!.rows)).toEqual(ids(predictions(0, 2)));
    unlinkSync(join(home, 'spool', files[1])); // someone deletes the next segment meanwhile
    await reader.acknowledge(first!);
    expect(await drain(reader)).toEqual(ids(predictions(4, 2)));
    expect(reader.stats().missingSegments).toBe(1);
    expect(problems.some((p) => p.kind === 'missing_segment')).toBe(true);
    expect(reader.hasBacklog).toBe(false);
  });

  it('replays segments left by a previous process and never appends after their tails', async () => {
    const before = open();
    await before.append(predictions(0, 3), true);
    // No close(): the process "died". Its segment is replayed by the next one.
    const after = open();
    await after.open();
    expect(after.stats().segments).toBe(1);
    await after.append(predictions(3, 2), false);
    const files = segmentFiles(join(home, 'spool'));
    expect(files).toEqual([segmentFileName(1), segmentFileName(2)]);
    expect(await drain(after)).toEqual(ids(predictions(0, 5)));
    await before.close(); // release the dead process's file handle
  });

  it('surfaces ENOSPC as a rejected append, cuts the half-written frame back, and recovers', async () => {
    const fs = new FaultyFileSystem();
    const spool = open({ fs });
    await spool.append(predictions(0, 2), false);
    fs.failWrites = 'ENOSPC';
    fs.partialWriteBytes = 40; // leaves half a frame on disk before failing
    await expect(spool.append(predictions(2, 2), false)).rejects.toMatchObject({ code: 'ENOSPC' });
    fs.failWrites = undefined;
    await spool.append(predictions(4, 2), false);
    expect(await drain(spool)).toEqual(ids([...predictions(0, 2), ...predictions(4, 2)]));
    expect(spool.stats().tornTails).toBe(0);
    expect(spool.stats().corruptFrames).toBe(0);
  });

  it('retries opening a directory it could not create', async () => {
    const blocker = join(home, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const spool = new Spool<PredictionRecord>({ directory: join(blocker, 'spool') });
    await expect(spool.append(predictions(0, 1), false)).rejects.toThrow();
    unlinkSync(blocker);
    await spool.append(predictions(1, 1), false);
    const batch = await spool.read(10);
    expect(ids(batch!.rows)).toEqual([prediction(1).id]);
  });

  it('merges concurrent durable appends into one write and one fsync (group commit)', async () => {
    const fs = new FaultyFileSystem();
    const spool = open({ fs });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => spool.append([prediction(i)], true)));
    expect(fs.fileSyncs).toBe(1);
    expect(fs.directorySyncs).toBe(1);
    expect(spool.stats().fsyncs).toBe(2);
    const delivered = await drain(spool, 10_000);
    expect(delivered).toEqual(ids(predictions(0, 1000)));
  });

  it('reports the age of the oldest unacknowledged record', async () => {
    const spool = open({ segmentBytes: 1 });
    const now = Date.now();
    await spool.append([prediction(0, now - 30_000)], false);
    await spool.append([prediction(1, now - 10_000)], false);
    expect(spool.oldestUnacknowledgedTs()).toBe(now - 30_000);
    const first = await spool.read(1);
    await spool.acknowledge(first!);
    expect(spool.oldestUnacknowledgedTs()).toBe(now - 10_000);
    await drain(spool);
    expect(spool.oldestUnacknowledgedTs()).toBeUndefined();
  });
});
