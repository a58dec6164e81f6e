/**
 * Raised when a training run is cancelled (a cooperative `shouldStop`, or an AbortSignal on a
 * worker run). Not an ArgusError: a cancelled job is an outcome the job runner records, not a
 * request the caller got wrong.
 */
export class TrainingCancelledError extends Error {
  constructor(message = 'training was cancelled') {
    super(message);
    this.name = 'TrainingCancelledError';
  }
}
