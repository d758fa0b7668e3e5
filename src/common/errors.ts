/** An error whose message is fit to show a user as is: the CLI prints it as one line. */
export class SiloError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
