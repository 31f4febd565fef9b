import { runAction } from './entry/action.js';

await runAction();
