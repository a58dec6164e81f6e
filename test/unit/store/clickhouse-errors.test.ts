import {
  StoreQueryError,
  StoreUnavailableError,
  StoreWriteError,
} from '../../../src/store/analytics-store';
import { classifyClickHouseError } from '../../../src/store/clickhouse-store';

describe('classifyClickHouseError', () => {
  it('treats transport failures as retryable outages', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), {
      code: 'ECONNREFUSED',
    });
    expect(classifyClickHouseError(refused, 'insert', 'write')).toBeInstanceOf(
      StoreUnavailableError,
    );
    expect(classifyClickHouseError(new Error('Timeout error.'), 'insert', 'write').retryable).toBe(
      true,
    );
  });

  it('reads the server error code of 18.16 and of current releases', () => {
    const old = new Error('Code: 252, e.displayText() = DB::Exception: Too many parts (300)');
    const current = new Error('Code: 241. DB::Exception: Memory limit (total) exceeded');
    expect(classifyClickHouseError(old, 'insert', 'write')).toBeInstanceOf(StoreUnavailableError);
    expect(classifyClickHouseError(current, 'insert', 'write')).toBeInstanceOf(
      StoreUnavailableError,
    );
    const typed = Object.assign(new Error('Memory limit exceeded'), { code: '241' });
    expect(classifyClickHouseError(typed, 'query', 'read')).toBeInstanceOf(StoreUnavailableError);
  });

  it('treats a refused request as not retryable, write or read', () => {
    const parse = new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input');
    const write = classifyClickHouseError(parse, 'insert predictions', 'write');
    expect(write).toBeInstanceOf(StoreWriteError);
    expect(write.retryable).toBe(false);
    expect(write.message).toBe(
      'ClickHouse insert predictions failed: Code: 27, e.displayText() = DB::Exception: Cannot parse input',
    );
    expect(write.cause).toBe(parse);
    const syntax = new Error('Code: 62. DB::Exception: Syntax error');
    expect(classifyClickHouseError(syntax, 'count', 'read')).toBeInstanceOf(StoreQueryError);
  });

  it('keeps a missing table or database retryable: migrations may not have run yet', () => {
    const table = new Error(
      "Code: 60, e.displayText() = DB::Exception: Table argus.predictions doesn't exist.",
    );
    expect(classifyClickHouseError(table, 'insert', 'write')).toBeInstanceOf(StoreUnavailableError);
  });

  it('does not mistake a bug on our side for an outage', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'length')");
    expect(classifyClickHouseError(bug, 'insert', 'write')).toBeInstanceOf(StoreWriteError);
    expect(classifyClickHouseError(bug, 'count', 'read')).toBeInstanceOf(StoreQueryError);
  });
});
