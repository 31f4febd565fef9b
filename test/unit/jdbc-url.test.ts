import { describe, expect, it } from 'vitest';
import {
  JdbcUrlError,
  UnsupportedDbmsError,
  jdbcParam,
  parseJdbcUrl,
  withJdbcParam,
} from '../../src/config/jdbc-url.js';
import type { JdbcUrl } from '../../src/config/types.js';

describe('parseJdbcUrl on supported URLs', () => {
  it.each<{ url: string; expected: JdbcUrl }>([
    {
      url: 'jdbc:postgresql://localhost:5432/reg_db?preparedStatementCacheQueries=0',
      expected: {
        engine: 'postgresql',
        host: 'localhost',
        port: 5432,
        database: 'reg_db',
        params: { preparedStatementCacheQueries: '0' },
      },
    },
    {
      url: 'jdbc:postgresql://db.example.com/apim_db',
      expected: { engine: 'postgresql', host: 'db.example.com', port: 5432, database: 'apim_db', params: {} },
    },
    {
      url: 'jdbc:mysql://mysql-1:3307/WSO2AM_DB?useSSL=false&allowPublicKeyRetrieval=true',
      expected: {
        engine: 'mysql',
        host: 'mysql-1',
        port: 3307,
        database: 'WSO2AM_DB',
        params: { useSSL: 'false', allowPublicKeyRetrieval: 'true' },
      },
    },
    {
      url: 'jdbc:mysql://localhost/shared_db?useSSL=false&amp;characterEncoding=latin1&amp;',
      expected: {
        engine: 'mysql',
        host: 'localhost',
        port: 3306,
        database: 'shared_db',
        params: { useSSL: 'false', characterEncoding: 'latin1' },
      },
    },
    {
      url: 'jdbc:mariadb://maria:3306/apim?sessionVariables=sql_mode=ANSI&flag',
      expected: {
        engine: 'mariadb',
        host: 'maria',
        port: 3306,
        database: 'apim',
        params: { sessionVariables: 'sql_mode=ANSI', flag: '' },
      },
    },
    {
      url: 'jdbc:mariadb://maria/apim',
      expected: { engine: 'mariadb', host: 'maria', port: 3306, database: 'apim', params: {} },
    },
    {
      url: 'jdbc:postgresql://[::1]/apim',
      expected: { engine: 'postgresql', host: '::1', port: 5432, database: 'apim', params: {} },
    },
    {
      url: 'jdbc:postgresql://[2001:db8::5]:5433/apim',
      expected: { engine: 'postgresql', host: '2001:db8::5', port: 5433, database: 'apim', params: {} },
    },
    {
      url: 'jdbc:postgresql://h/my%20db?application%20name=apim%26migrate&options=-c%20search_path%3Dx',
      expected: {
        engine: 'postgresql',
        host: 'h',
        port: 5432,
        database: 'my db',
        params: { 'application name': 'apim&migrate', options: '-c search_path=x' },
      },
    },
    {
      url: '  JDBC:PostgreSQL://h:1/d?  ',
      expected: { engine: 'postgresql', host: 'h', port: 1, database: 'd', params: {} },
    },
    {
      url: 'jdbc:mysql://h:65535/d?',
      expected: { engine: 'mysql', host: 'h', port: 65535, database: 'd', params: {} },
    },
  ])('parses $url', ({ url, expected }) => {
    expect(parseJdbcUrl(url)).toEqual(expected);
  });
});

describe('parseJdbcUrl on unsupported database systems', () => {
  it.each([
    {
      url: 'jdbc:sqlserver://mssql:1433;databaseName=WSO2AM_DB;SendStringParametersAsUnicode=false',
      dbms: 'Microsoft SQL Server',
    },
    { url: 'jdbc:jtds:sqlserver://mssql:1433/WSO2AM_DB', dbms: 'Microsoft SQL Server' },
    { url: 'jdbc:oracle:thin:@localhost:1521/ORCLPDB', dbms: 'Oracle' },
    { url: 'jdbc:db2://db2:50000/WSO2AM', dbms: 'IBM Db2' },
    { url: 'jdbc:h2:./repository/database/WSO2AM_DB;DB_CLOSE_ON_EXIT=FALSE', dbms: 'H2' },
  ])('reports $dbms for $url', ({ url, dbms }) => {
    const error = catchError(() => parseJdbcUrl(url));
    expect(error).toBeInstanceOf(UnsupportedDbmsError);
    expect(error).toBeInstanceOf(JdbcUrlError);
    expect((error as UnsupportedDbmsError).dbms).toBe(dbms);
    expect(error.message).toContain(dbms);
  });
});

describe('parseJdbcUrl on malformed URLs', () => {
  it.each([
    { url: '', message: /empty/ },
    { url: 'postgresql://h/d', message: /not a JDBC URL/ },
    { url: 'https://example.com/', message: /not a JDBC URL/ },
    { url: 'jdbc:sqlite:/tmp/x.db', message: /"jdbc:sqlite:" is not supported/ },
    { url: 'jdbc:postgresql:apim_db', message: /no host/ },
    { url: 'jdbc:postgresql://h:5432', message: /no database/ },
    { url: 'jdbc:postgresql://h:5432/', message: /no database/ },
    { url: 'jdbc:mysql://h/?useSSL=false', message: /no database/ },
    { url: 'jdbc:postgresql:///apim', message: /empty host/ },
    { url: 'jdbc:postgresql://:5432/apim', message: /empty host/ },
    { url: 'jdbc:mysql://h:abc/apim', message: /"abc" is not a number/ },
    { url: 'jdbc:mysql://h:/apim', message: /port after ":" is empty/ },
    { url: 'jdbc:mysql://h:0/apim', message: /out of range/ },
    { url: 'jdbc:mysql://h:70000/apim', message: /out of range/ },
    { url: 'jdbc:postgresql://h1:5432,h2:5432/apim', message: /several hosts/ },
    { url: 'jdbc:mysql://address=(host=h)(port=3306)/apim', message: /address=\(\.\.\.\)/ },
    { url: 'jdbc:mysql://(host=h,port=3306)/apim', message: /address=\(\.\.\.\)/ },
    { url: 'jdbc:mysql:loadbalance://h1,h2/apim', message: /jdbc:mysql:loadbalance: form/ },
    { url: 'jdbc:mariadb:sequential://h1/apim', message: /jdbc:mariadb:sequential: form/ },
    { url: 'jdbc:postgresql://::1/apim', message: /put it in brackets/ },
    { url: 'jdbc:postgresql://[::1/apim', message: /closing "\]"/ },
    { url: 'jdbc:postgresql://[::1]x/apim', message: /after the IPv6 address/ },
    { url: 'jdbc:postgresql://[db.local]/apim', message: /not an IPv6 address/ },
    { url: 'jdbc:postgresql://bad host/apim', message: /not a valid host name/ },
    { url: 'jdbc:postgresql://h/a/b', message: /holds a "\/"/ },
    { url: 'jdbc:postgresql://h/apim?=x', message: /no name/ },
    { url: 'jdbc:postgresql://h/apim?a=%zz', message: /broken %-escape/ },
  ])('rejects $url', ({ url, message }) => {
    const error = catchError(() => parseJdbcUrl(url));
    expect(error).toBeInstanceOf(JdbcUrlError);
    expect(error).not.toBeInstanceOf(UnsupportedDbmsError);
    expect(error.message).toMatch(message);
  });

  it('does not repeat credentials written before the host', () => {
    const error = catchError(() => parseJdbcUrl('jdbc:mysql://root:hunter2@h/apim'));
    expect(error).toBeInstanceOf(JdbcUrlError);
    expect(error.message).toMatch(/user name or password before the host/);
    expect(error.message).not.toContain('hunter2');
  });

  it('does not repeat a password parameter with a broken escape', () => {
    const error = catchError(() => parseJdbcUrl('jdbc:postgresql://h/apim?password=s3cr%t'));
    expect(error.message).not.toContain('s3cr');
  });
});

describe('jdbcParam, as each driver reads parameter names', () => {
  it.each([
    // PgJDBC reads java.util.Properties by the exact name.
    ['jdbc:postgresql://h/db?preparedStatementCacheQueries=0', 'preparedStatementCacheQueries', '0'],
    ['jdbc:postgresql://h/db?PreparedStatementCacheQueries=0', 'preparedStatementCacheQueries', undefined],
    ['jdbc:postgresql://h/db?SSLMODE=require', 'sslmode', undefined],
    // MySQL Connector/J: sslMode, useSSL and the like are case-sensitive property keys.
    ['jdbc:mysql://h/db?useSSL=true', 'useSSL', 'true'],
    ['jdbc:mysql://h/db?usessl=true', 'useSSL', undefined],
    // MariaDB Connector/J matches option names in any case from 3.0.10.
    ['jdbc:mariadb://h/db?SSLMODE=verify-full', 'sslMode', 'verify-full'],
    ['jdbc:mariadb://h/db', 'sslMode', undefined],
  ])('%s: %s is %s', (url, name, value) => {
    expect(jdbcParam(parseJdbcUrl(url), name)).toBe(value);
  });

  it('does not take a property of Object for a parameter', () => {
    expect(jdbcParam(parseJdbcUrl('jdbc:postgresql://h/db'), 'constructor')).toBeUndefined();
  });
});

describe('withJdbcParam', () => {
  it.each([
    { url: 'jdbc:postgresql://h/apim', expected: 'jdbc:postgresql://h/apim?preparedStatementCacheQueries=0' },
    { url: 'jdbc:postgresql://h/apim?', expected: 'jdbc:postgresql://h/apim?preparedStatementCacheQueries=0' },
    {
      url: 'jdbc:postgresql://h/apim?ssl=true',
      expected: 'jdbc:postgresql://h/apim?ssl=true&preparedStatementCacheQueries=0',
    },
    {
      url: 'jdbc:postgresql://h/apim?ssl=true&',
      expected: 'jdbc:postgresql://h/apim?ssl=true&preparedStatementCacheQueries=0',
    },
    {
      url: 'jdbc:postgresql://h/apim?ssl=true&amp;sslmode=require',
      expected: 'jdbc:postgresql://h/apim?ssl=true&amp;sslmode=require&amp;preparedStatementCacheQueries=0',
    },
    {
      url: 'jdbc:postgresql://h/apim?preparedStatementCacheQueries=0&ssl=true',
      expected: 'jdbc:postgresql://h/apim?preparedStatementCacheQueries=0&ssl=true',
    },
    {
      url: 'jdbc:postgresql://h/apim?a=1&preparedStatementCacheQueries=256&b=2',
      expected: 'jdbc:postgresql://h/apim?a=1&preparedStatementCacheQueries=0&b=2',
    },
  ])('adds the parameter to $url once', ({ url, expected }) => {
    const result = withJdbcParam(url, 'preparedStatementCacheQueries', '0');
    expect(result).toBe(expected);
    expect(parseJdbcUrl(result).params['preparedStatementCacheQueries']).toBe('0');
  });

  it('keeps the other parameters', () => {
    const result = withJdbcParam('jdbc:mysql://h/apim?useSSL=false&amp;x=a%3Db', 'k', 'v w');
    expect(parseJdbcUrl(result).params).toEqual({ useSSL: 'false', x: 'a=b', k: 'v w' });
  });

  it('is idempotent', () => {
    const once = withJdbcParam('jdbc:postgresql://h/apim?ssl=true', 'preparedStatementCacheQueries', '0');
    expect(withJdbcParam(once, 'preparedStatementCacheQueries', '0')).toBe(once);
  });

  it('refuses a URL it cannot parse', () => {
    expect(() => withJdbcParam('jdbc:h2:mem:x', 'a', 'b')).toThrow(UnsupportedDbmsError);
  });
});

function catchError(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`threw a non-Error: ${String(error)}`);
  }
  throw new Error('expected an error, but none was thrown');
}
