import { HARNESS_STATE, HarnessState } from './global-setup';

/** Jest global teardown: stops what global setup started and deletes its temporary directory. */
export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<symbol, unknown>)[HARNESS_STATE] as HarnessState | undefined;
  await state?.clickhouse?.dispose();
}
