import { ArgusError, InvalidInputError } from '../../../src/common/errors';
import {
  MigrationChecksumError,
  MigrationFailedError,
  StoreError,
  StoreQueryError,
  StoreUnavailableError,
  StoreWriteError,
} from '../../../src/store';
import {
  reviveStoreError,
  SerializedStoreError,
  serializeStoreError,
} from '../../../src/store/duckdb-thread-protocol';

/** What a caller on the serving thread gets back for an error thrown on the store thread. */
function acrossTheThread(err: unknown): Error {
  // The real crossing is a structured clone; a JSON round trip is stricter (no undefined, no
  // prototypes) and shows nothing relies on more than plain data.
  return reviveStoreError(
    JSON.parse(JSON.stringify(serializeStoreError(err))) as SerializedStoreError,
  );
}

describe('store errors across the DuckDB store thread', () => {
  it.each([
    [
      'StoreUnavailableError',
      new StoreUnavailableError('DuckDB insert predictions failed: disk'),
      true,
    ],
    ['StoreWriteError', new StoreWriteError('refused prediction batch: row 3: bad bins'), false],
    ['StoreQueryError', new StoreQueryError('DuckDB count predictions failed: no table'), false],
  ])('%s keeps its class, message and retryable flag', (_name, original, retryable) => {
    const revived = acrossTheThread(original);
    expect(revived).toBeInstanceOf(original.constructor);
    expect(revived).toBeInstanceOf(StoreError);
    expect(revived.message).toBe(original.message);
    expect((revived as StoreError).retryable).toBe(retryable);
    expect((revived as StoreError).kind).toBe(original.kind);
  });

  it('keeps the file and checksums of an edited migration', () => {
    const original = new MigrationChecksumError('0002_x.sql', 'aa11', 'bb22');
    const revived = acrossTheThread(original);
    expect(revived).toBeInstanceOf(MigrationChecksumError);
    expect(revived).toMatchObject({
      file: '0002_x.sql',
      appliedChecksum: 'aa11',
      currentChecksum: 'bb22',
      message: original.message,
      kind: 'conflict',
    });
  });

  it('keeps the file, statement and message of a failed migration', () => {
    const original = new MigrationFailedError('0003_y.sql', 4, new Error('Parser Error: near "X"'));
    const revived = acrossTheThread(original);
    expect(revived).toBeInstanceOf(MigrationFailedError);
    expect(revived).toMatchObject({ file: '0003_y.sql', statementIndex: 4 });
    expect(revived.message).toBe(original.message);
    expect(revived.message).toMatch(/0003_y\.sql failed at statement 5: Parser Error/);
  });

  it('maps other Argus errors by kind, RangeError by name, anything else to a named Error', () => {
    const invalid = acrossTheThread(new InvalidInputError('bad filter', { field: 'model' }));
    expect(invalid).toBeInstanceOf(InvalidInputError);
    expect(invalid).toMatchObject({ kind: 'invalid', details: { field: 'model' } });

    const conflict = acrossTheThread(new ArgusError('conflict', 'busy'));
    expect(conflict).toBeInstanceOf(ArgusError);
    expect(conflict).toMatchObject({ kind: 'conflict', message: 'busy' });

    const range = acrossTheThread(new RangeError('retention days must be a positive integer'));
    expect(range).toBeInstanceOf(RangeError);
    expect(range.message).toBe('retention days must be a positive integer');

    const plain = acrossTheThread(new TypeError('x is not a function'));
    expect(plain).not.toBeInstanceOf(ArgusError);
    expect(plain).toMatchObject({ name: 'TypeError', message: 'x is not a function' });
    expect(acrossTheThread('a thrown string').message).toBe('a thrown string');
  });
});
