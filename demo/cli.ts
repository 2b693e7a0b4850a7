/**
 * Entry point of `npm start`: runs {@link main} with the process arguments.
 *
 * @module
 */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
