/** Errors of the simulated agent. */

/**
 * A container could not be prepared (sandbox, volumes, environment). The agent turns it into
 * TASK_FAILED with REASON_CONTAINER_LAUNCH_FAILED, as a real agent does when its containerizer
 * fails to launch.
 */
export class ContainerLaunchError extends Error {
  override name = 'ContainerLaunchError';
}

/** A name that would become a path component is unsafe (empty, `.`/`..`, a slash or NUL). */
export class UnsafePathError extends ContainerLaunchError {
  override name = 'UnsafePathError';
}

/**
 * The agent's checkpoint cannot be read (a malformed record that is not a torn last line). Like a
 * real agent in strict mode, the agent refuses to start rather than guess; the message names the
 * file and the way out.
 */
export class AgentCheckpointError extends Error {
  override name = 'AgentCheckpointError';
}
