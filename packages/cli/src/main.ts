#!/usr/bin/env node
// `sd`: the command-line entry point (`pnpm sd <command>`).
import { Command } from 'commander';
import { infoCommand } from './commands/info.ts';

const program = new Command('sd').description('Shifted Diffusion on WebGPU').showHelpAfterError();

program.command('info').description('show the WebGPU adapter, its features and limits').option('--json', 'print JSON').action(infoCommand);

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`sd: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
