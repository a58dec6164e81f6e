import { InvalidInputError } from './errors';

/** Splits CSV text into records, honouring quotes (which may span chunk and line boundaries). */
export class CsvRecordParser {
  private field = '';
  private record: string[] = [];
  private inQuotes = false;
  private quotePending = false;

  push(chunk: string, emit: (record: string[]) => void): void {
    for (let i = 0; i < chunk.length; i++) {
      const ch = chunk[i];
      if (this.quotePending) {
        this.quotePending = false;
        if (ch === '"') {
          this.field += '"';
          continue;
        }
        this.inQuotes = false;
      }
      if (this.inQuotes) {
        if (ch === '"') this.quotePending = true;
        else this.field += ch;
        continue;
      }
      if (ch === '"' && this.field === '') this.inQuotes = true;
      else if (ch === ',') {
        this.record.push(this.field);
        this.field = '';
      } else if (ch === '\n') {
        this.record.push(this.field.endsWith('\r') ? this.field.slice(0, -1) : this.field);
        this.field = '';
        const rec = this.record;
        this.record = [];
        if (!(rec.length === 1 && rec[0] === '')) emit(rec);
      } else this.field += ch;
    }
  }

  end(emit: (record: string[]) => void): void {
    if (this.inQuotes && !this.quotePending)
      throw new InvalidInputError('CSV ends inside a quoted field');
    if (this.field !== '' || this.record.length > 0) {
      this.record.push(this.field.endsWith('\r') ? this.field.slice(0, -1) : this.field);
      emit(this.record);
    }
    this.record = [];
    this.field = '';
  }
}
