import { InputError } from '../../src/core/errors.js';

/** Runs `run` and returns the InputError it throws; any other outcome fails the test. */
export function catchInputError(run: () => unknown): InputError {
  try {
    run();
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError, but none was thrown');
}

/** The same for a promise. */
export async function rejectedInputError(promise: Promise<unknown>): Promise<InputError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof InputError) return error;
    throw error;
  }
  throw new Error('expected an InputError, but none was thrown');
}
