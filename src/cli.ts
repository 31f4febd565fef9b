#!/usr/bin/env node
import { runCli } from './entry/cli.js';

process.exitCode = await runCli(process.argv.slice(2));
