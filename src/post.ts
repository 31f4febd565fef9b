import { runPost } from './entry/post.js';

await runPost();
