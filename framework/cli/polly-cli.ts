/**
 * Process entry of the CLI from source (`node -r ./test/support/register-ts.js framework/cli/polly-cli.ts ...`);
 * `bin/polly.js` does the same from dist/. Sets the exit code and lets the event loop drain.
 */
import { main } from './main';

void main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`polly: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
