/**
 * How a client session is written in messages: every field of the server's neutralised and on one line, the
 * statement cut to STATEMENT_CHARS, the connection named as the DBMS names it, a lock wait with its holders.
 */
import { describe, expect, it } from 'vitest';
import {
  describeClientSession,
  describeLockWait,
  STATEMENT_CHARS,
  statementText,
} from '../../src/db/client-sessions.js';

describe('describeClientSession', () => {
  it('names a PostgreSQL backend with every field it has', () => {
    expect(
      describeClientSession('postgresql', {
        id: 4711,
        user: 'wso2',
        application: 'PostgreSQL JDBC Driver',
        client: '10.0.0.7:51234',
        connectedAt: '2026-12-04T18:00:00Z',
        state: 'active',
        runningSeconds: 125,
        statement: 'UPDATE IDN_OAUTH2_ACCESS_TOKEN\n   SET TOKEN_STATE = $1',
        lockWait: { on: 'a transactionid lock', blockedBy: [4700, 4701] },
      }),
    ).toBe(
      'backend pid 4711 (user wso2, application "PostgreSQL JDBC Driver", from 10.0.0.7:51234, connected since ' +
        '2026-12-04T18:00:00Z, active, running for 2 min 5 s): UPDATE IDN_OAUTH2_ACCESS_TOKEN SET TOKEN_STATE = $1; ' +
        'waits for a transactionid lock held by backend pid 4700, backend pid 4701',
    );
  });

  it('names a MariaDB connection, and neutralises what the server gives', () => {
    const line = describeClientSession('mariadb', {
      id: 9,
      user: 'wso2\u001b[31m',
      client: '::add-mask::10.0.0.8:3306',
      state: 'Sleep',
      statement: "SELECT '##[set-output name=x]y'",
    });
    expect(line).toBe(
      "connection 9 (user wso2, from : :add-mask::10.0.0.8:3306, Sleep): SELECT '# #[set-output name=x]y'",
    );
  });
});

describe('statementText', () => {
  it(`cuts a statement to ${STATEMENT_CHARS} characters, on one line`, () => {
    const long = `SELECT ${'x, '.repeat(200)}1`;
    const text = statementText(long);
    expect(text.endsWith('...')).toBe(true);
    expect([...text].length).toBe(STATEMENT_CHARS + 3);
    expect(statementText('SELECT\t1\r\nFROM dual')).toBe('SELECT 1 FROM dual');
  });
});

describe('describeLockWait', () => {
  it('says what it waits for, and who holds it where the server says', () => {
    expect(describeLockWait('mysql', { on: 'an InnoDB row lock', blockedBy: [12] })).toBe(
      'waits for an InnoDB row lock held by connection 12',
    );
    expect(describeLockWait('postgresql', { on: 'a relation lock', blockedBy: [] })).toBe('waits for a relation lock');
  });
});
