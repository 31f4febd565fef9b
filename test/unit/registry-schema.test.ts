import { describe, expect, it } from 'vitest';
import { registrySchemaStatements, registrySequences, registryTableColumns } from '../../src/demo/registry-schema.js';
import { REGISTRY_TABLES } from '../../src/demo/registry-seed.js';

const postgres = registrySchemaStatements({ family: 'postgresql' });
const mysql = registrySchemaStatements({ family: 'mysql' });

describe('the 3.1.0 registry schema, described once', () => {
  it('describes every table the seed writes, with its columns', () => {
    const columns = registryTableColumns();
    expect(Object.keys(columns).sort()).toEqual([...REGISTRY_TABLES].sort());
    expect(columns['REG_RESOURCE_TAG']).toEqual([
      ['REG_TAG_ID', 'i'],
      ['REG_VERSION', 'i'],
      ['REG_PATH_ID', 'i'],
      ['REG_RESOURCE_NAME', 's'],
      ['REG_TENANT_ID', 'i'],
    ]);
    expect(columns['REG_CONTENT']).toEqual([
      ['REG_CONTENT_ID', 'i'],
      ['REG_CONTENT_DATA', 'b'],
      ['REG_TENANT_ID', 'i'],
    ]);
  });

  it("renders PostgreSQL's script: sequences for the generated ids, BYTEA, the path value index", () => {
    expect(postgres.filter((statement) => statement.startsWith('CREATE SEQUENCE'))).toEqual(
      Object.values(registrySequences()).map((sequence) => `CREATE SEQUENCE ${sequence}`),
    );
    expect(postgres).toContain('CREATE INDEX REG_PATH_IND_BY_PATH_VALUE ON REG_PATH(REG_PATH_VALUE, REG_TENANT_ID)');
    expect(postgres.join('\n')).toContain("REG_VERSION INTEGER DEFAULT NEXTVAL('REG_RESOURCE_PK_SEQ')");
    expect(postgres.join('\n')).toContain('REG_CONTENT_DATA BYTEA');
    expect(postgres.join('\n')).not.toMatch(/AUTO_INCREMENT|USING HASH|ENGINE INNODB|UNIQUE_REG_PATH_TENANT_ID/);
  });

  it("renders MySQL's script: AUTO_INCREMENT, hash indices, the unique path, and the index name it cuts short", () => {
    const text = mysql.join('\n');
    expect(text).toContain('REG_PATH_ID INTEGER NOT NULL AUTO_INCREMENT');
    expect(text).toContain('REG_PATH_VALUE VARCHAR(750) NOT NULL');
    expect(text).toContain('CONSTRAINT UNIQUE_REG_PATH_TENANT_ID UNIQUE (REG_PATH_VALUE,REG_TENANT_ID)');
    expect(text).toContain('REG_CREATED_TIME TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP');
    expect(mysql).toContain(
      'CREATE INDEX REG_RESOURCE_IND_BY_TENAN USING HASH ON REG_RESOURCE(REG_TENANT_ID, REG_UUID)',
    );
    expect(text).not.toMatch(/SEQUENCE|NEXTVAL|BYTEA|REG_PATH_IND_BY_PATH_VALUE/);
  });

  it("keeps WSO2's own oddities on both: the history index on REG_RESOURCE, the property key named after tags", () => {
    for (const statements of [postgres, mysql]) {
      expect(statements.join('\n')).toMatch(
        /CREATE INDEX REG_RESOURCE_HISTORY_IND_BY_PATH_ID_NAME( USING HASH)? ON REG_RESOURCE\(/,
      );
      expect(statements.join('\n')).toContain(
        'ALTER TABLE REG_RESOURCE_PROPERTY ADD CONSTRAINT REG_RESOURCE_PROPERTY_FK_BY_TAG_ID FOREIGN KEY (REG_PROPERTY_ID, REG_TENANT_ID) REFERENCES REG_PROPERTY (REG_ID, REG_TENANT_ID)',
      );
    }
  });
});
