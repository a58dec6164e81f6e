import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { TrainingJob } from './job-record';

/**
 * Job records on disk: one JSON file per job in `ARGUS_HOME/jobs/`, each write to a temporary
 * file, fsynced and renamed over the old one, so a reader (another process, or this one after a
 * crash) sees either the previous or the next record, never half of one.
 */
export const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class JobFiles {
  readonly directory: string;

  constructor(home: string) {
    this.directory = join(home, 'jobs');
  }

  path(id: string): string {
    return join(this.directory, `${id}.json`);
  }

  /** Scratch space of a job (external trainers' data files); removed when the job ends. */
  workDirectory(id: string): string {
    return join(this.directory, `${id}.work`);
  }

  async write(job: TrainingJob): Promise<void> {
    await fs.mkdir(this.directory, { recursive: true });
    const target = this.path(job.id);
    const temporary = `${target}.tmp-${randomUUID()}`;
    const handle = await fs.open(temporary, 'w');
    try {
      await handle.writeFile(JSON.stringify(job, null, 2));
      await handle.sync();
    } catch (err) {
      await handle.close();
      await fs.rm(temporary, { force: true });
      throw err;
    }
    await handle.close();
    await fs.rename(temporary, target);
  }

  /** The record, or undefined when there is no such job (or the id is not a job id). */
  async read(id: string): Promise<TrainingJob | undefined> {
    if (!JOB_ID.test(id)) return undefined;
    try {
      return JSON.parse(await fs.readFile(this.path(id), 'utf8')) as TrainingJob;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      // A corrupt file (written by hand, disk trouble) must not hide every other job.
      if (err instanceof SyntaxError) return undefined;
      throw err;
    }
  }

  /** Every readable job record, newest first. */
  async readAll(): Promise<TrainingJob[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.directory);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const jobs: TrainingJob[] = [];
    for (const name of names) {
      const match = /^(.+)\.json$/.exec(name);
      if (!match || !JOB_ID.test(match[1])) continue;
      const job = await this.read(match[1]);
      if (job) jobs.push(job);
    }
    return jobs.sort((a, b) =>
      a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0,
    );
  }

  async remove(id: string): Promise<void> {
    await fs.rm(this.path(id), { force: true });
    await fs.rm(this.workDirectory(id), { recursive: true, force: true });
  }

  async removeWorkDirectory(id: string): Promise<void> {
    await fs.rm(this.workDirectory(id), { recursive: true, force: true });
  }
}
