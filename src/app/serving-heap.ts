import { setFlagsFromString } from 'node:v8';

/**
 * Turns off V8's allocation-site pretenuring for the serving process.
 *
 * Why: V8 may decide, from a moment when many objects of one allocation site survived (a stall, a
 * burst), to allocate that site's objects straight into the old generation. When it does so for a
 * site on the request path, every request keeps part of its object graph alive through young
 * collections (old-to-young references count as roots until the next full collection): in such a
 * process 6-14 % of the young generation survived each scavenge instead of 0.3-3 %, nearly all of
 * it was promoted, scavenges took 5-14 ms instead of 1-2 ms, and the p99 stayed about twice as
 * high for the life of the process. Whether a process fell into it was chance, in a fifth to most
 * of the servers started on the 2-core benchmark machine. With the flag, six servers in a row
 * stayed at 0.5-3.1 % and their p99 at 4.4-7.9 ms, against 7.0-13.3 ms for six without it,
 * alternating (docs/prediction-log.md, session 10). Request objects live for a millisecond;
 * pretenuring them is never right here.
 *
 * `argus serve` (bin/argus.js) sets it before loading anything else; `startServer` sets it again
 * for processes that start the server themselves (tests, benchmarks). Set that late — after the
 * modules loaded — one of five benchmark servers still fell into it, so a decision made while
 * loading can outlive the flag.
 */
export function disableAllocationSitePretenuring(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
