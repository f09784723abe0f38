#!/usr/bin/env node
// `sd`: the command-line entry point (`pnpm sd <command>`).
import { buildProgram } from './program.ts';

buildProgram().parseAsync(process.argv).then(() => process.exit(0)).catch((error: unknown) => {
  console.error(`sd: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
