import { PollyError } from './polly-error';

/** Polly or a backend cannot serve this right now (not leader, store closed, backend down); retry later. */
export class UnavailableError extends PollyError {
  override name = 'UnavailableError';
  override readonly status: number = 503;
  override readonly code: string = 'UNAVAILABLE';
  override readonly temporary: boolean = true;
}
