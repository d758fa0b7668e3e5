/** An error whose message is fit to show a user as is: the CLI prints it as one line. */
export class SiloError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** A named thing (a tenant, a backup, a token) that does not exist: the API answers 404. */
export class NotFoundError extends SiloError {}
/** Another home took the control plane of this stack over (src/runtime/swarm/control-state.ts). */
export class ControlTakenOver extends SiloError {}
