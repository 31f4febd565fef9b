-- The reference of the registry-scripts benchmark (bench/registry-scripts.ts): the removal of registry versioning
-- details (docs: wso2-facts.md, Step 1b) written as plain correlated SQL, statement by statement, the way WSO2's
-- scripts do it, for all four kinds of metadata (all four versioning flags on). Written for the benchmark, not
-- copied from WSO2. Each statement commits on its own (autocommit), as when an operator runs the script.
-- Run with: mysql DB < mysql.sql (MySQL or MariaDB; sql_safe_updates must be off, as it is by default)

-- REG_RESOURCE_TAG / REG_TAG
-- Phase 1: the path of the REG_RESOURCE row with the same version (NULL when there is none).
UPDATE REG_RESOURCE_TAG SET REG_PATH_ID = (SELECT REG_RESOURCE.REG_PATH_ID FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_TAG.REG_VERSION);
-- Phase 2: the rows of old versions (and rows without a version).
DELETE FROM REG_RESOURCE_TAG WHERE REG_PATH_ID IS NULL;
-- Phase 3: the entities no mapping row refers to any more.
DELETE FROM REG_TAG WHERE NOT EXISTS (SELECT 1 FROM REG_RESOURCE_TAG WHERE REG_RESOURCE_TAG.REG_TAG_ID = REG_TAG.REG_ID);
-- Phase 4: the resource name of the REG_RESOURCE row with the same version.
UPDATE REG_RESOURCE_TAG SET REG_RESOURCE_NAME = (SELECT REG_RESOURCE.REG_NAME FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_TAG.REG_VERSION);

-- REG_RESOURCE_COMMENT / REG_COMMENT
-- Phase 1: the path of the REG_RESOURCE row with the same version (NULL when there is none).
UPDATE REG_RESOURCE_COMMENT SET REG_PATH_ID = (SELECT REG_RESOURCE.REG_PATH_ID FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_COMMENT.REG_VERSION);
-- Phase 2: the rows of old versions (and rows without a version).
DELETE FROM REG_RESOURCE_COMMENT WHERE REG_PATH_ID IS NULL;
-- Phase 3: the entities no mapping row refers to any more.
DELETE FROM REG_COMMENT WHERE NOT EXISTS (SELECT 1 FROM REG_RESOURCE_COMMENT WHERE REG_RESOURCE_COMMENT.REG_COMMENT_ID = REG_COMMENT.REG_ID);
-- Phase 4: the resource name of the REG_RESOURCE row with the same version.
UPDATE REG_RESOURCE_COMMENT SET REG_RESOURCE_NAME = (SELECT REG_RESOURCE.REG_NAME FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_COMMENT.REG_VERSION);

-- REG_RESOURCE_PROPERTY / REG_PROPERTY
-- Phase 1: the path of the REG_RESOURCE row with the same version (NULL when there is none).
UPDATE REG_RESOURCE_PROPERTY SET REG_PATH_ID = (SELECT REG_RESOURCE.REG_PATH_ID FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_PROPERTY.REG_VERSION);
-- Phase 2: the rows of old versions (and rows without a version).
DELETE FROM REG_RESOURCE_PROPERTY WHERE REG_PATH_ID IS NULL;
-- Phase 3: the entities no mapping row refers to any more.
DELETE FROM REG_PROPERTY WHERE NOT EXISTS (SELECT 1 FROM REG_RESOURCE_PROPERTY WHERE REG_RESOURCE_PROPERTY.REG_PROPERTY_ID = REG_PROPERTY.REG_ID);
-- Phase 4: the resource name of the REG_RESOURCE row with the same version.
UPDATE REG_RESOURCE_PROPERTY SET REG_RESOURCE_NAME = (SELECT REG_RESOURCE.REG_NAME FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_PROPERTY.REG_VERSION);

-- REG_RESOURCE_RATING / REG_RATING
-- Phase 1: the path of the REG_RESOURCE row with the same version (NULL when there is none).
UPDATE REG_RESOURCE_RATING SET REG_PATH_ID = (SELECT REG_RESOURCE.REG_PATH_ID FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_RATING.REG_VERSION);
-- Phase 2: the rows of old versions (and rows without a version).
DELETE FROM REG_RESOURCE_RATING WHERE REG_PATH_ID IS NULL;
-- Phase 3: the entities no mapping row refers to any more.
DELETE FROM REG_RATING WHERE NOT EXISTS (SELECT 1 FROM REG_RESOURCE_RATING WHERE REG_RESOURCE_RATING.REG_RATING_ID = REG_RATING.REG_ID);
-- Phase 4: the resource name of the REG_RESOURCE row with the same version.
UPDATE REG_RESOURCE_RATING SET REG_RESOURCE_NAME = (SELECT REG_RESOURCE.REG_NAME FROM REG_RESOURCE
    WHERE REG_RESOURCE.REG_VERSION = REG_RESOURCE_RATING.REG_VERSION);
