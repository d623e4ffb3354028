/**
 * Everything wrong with an app definition, gathered before anything is refused: malformed fields
 * (400), fields Polly cannot honour safely (422) and fields it accepts without honouring them
 * (warnings). Each names its field as a JSON path (`container.volumes[0].external.name`).
 */
import { UnprocessableError } from '../../errors/unprocessable-error';
import { ValidationError } from '../../errors/validation-error';

export interface Problem {
  field: string;
  message: string;
}

export class Findings {
  readonly problems: Problem[] = [];
  readonly refused: Problem[] = [];
  readonly warnings: string[] = [];

  /** Malformed or contradictory: 400. */
  problem(field: string, message: string): void {
    this.problems.push({ field, message: prefixed(field, message) });
  }

  /** Well-formed but not something Polly can do safely: 422. */
  unsupported(field: string, message: string): void {
    this.refused.push({ field, message: prefixed(field, message) });
  }

  /** Accepted, but not (fully) honoured: safe to ignore, said in the response. */
  warn(field: string, message: string): void {
    const text = prefixed(field, message);
    if (!this.warnings.includes(text)) this.warnings.push(text);
  }

  get ok(): boolean {
    return this.problems.length === 0 && this.refused.length === 0;
  }

  /** Throws the 400 (every malformed field), else the 422 (every field Polly cannot honour). */
  throwIfAny(): void {
    if (this.problems.length > 0) throw invalid(this.problems);
    if (this.refused.length > 0) {
      const list = this.refused;
      const message =
        list.length === 1
          ? `Polly cannot run this app as defined: ${list[0].message}`
          : `Polly cannot run this app as defined (${list.length} fields): ${list.map((p) => p.message).join('; ')}`;
      throw new UnprocessableError(message, { field: list[0].field, problems: list });
    }
  }
}

/** One 400 for a list of problems: the first names `details.field`, all are in `details.problems`. */
export function invalid(problems: Problem[]): ValidationError {
  const message =
    problems.length === 1 ? problems[0].message : `The app definition has ${problems.length} problems: ${problems.map((p) => p.message).join('; ')}`;
  return new ValidationError(message, { field: problems[0].field, problems });
}

function prefixed(field: string, message: string): string {
  return message.startsWith(field) ? message : `${field}: ${message}`;
}
