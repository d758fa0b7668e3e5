import type { Command } from 'commander';

/** The `silo <name>` command group, created by the first file that registers into it. */
export function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}
