/** One verdict line of a check, as preflight and verify print them. */
export interface Check {
  verdict: 'pass' | 'warn' | 'fail';
  message: string;
}
