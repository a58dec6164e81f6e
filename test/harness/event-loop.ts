/**
 * Runs `work` while a `setImmediate` ticker counts the turns of the event loop: the proof that a
 * sliced piece of work (an encoder, an appender, a decoder) hands the loop back in between, which
 * a long synchronous run would not (it would leave the count at about one).
 */
export async function countingLoopTurns<T>(
  work: () => Promise<T>,
): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  try {
    return { result: await work(), turns };
  } finally {
    running = false;
  }
}
