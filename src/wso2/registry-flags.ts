/**
 * Reads the registry versioning flags of the old (3.1.0) `repository/conf/registry.xml`, which decide whether
 * the registry versioning details may be removed (Step 1b), as carbon-kernel 4.6.0 read them: a flag is on only when
 * the element's text is exactly `true`. Also compares them with the old deployment.toml, from which 3.1.0 renders
 * registry.xml at every start.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readStaticConfigurationVersioning } from '../config/deployment-toml.js';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { RegistryVersioningFlags } from '../config/types.js';
import { InputError, errorMessage } from '../core/errors.js';
import { VERSIONED_METADATA } from './registry.js';

export type RegistryFlagName = keyof RegistryVersioningFlags;

export const REGISTRY_FLAG_NAMES: readonly RegistryFlagName[] = ['properties', 'comments', 'tags', 'ratings'];

/** The `<staticConfiguration>` child element that holds each flag. */
export const REGISTRY_FLAG_ELEMENTS: Readonly<Record<RegistryFlagName, string>> = {
  properties: 'versioningProperties',
  comments: 'versioningComments',
  tags: 'versioningTags',
  ratings: 'versioningRatings',
};

export interface RegistryFlagsResult {
  file: string;
  flags: RegistryVersioningFlags;
  /** Flags whose element is not in the file; they are `false`, carbon-kernel's `StaticConfiguration` default. */
  absent: RegistryFlagName[];
  /** Elements whose text is neither exactly `true` nor exactly `false`: off, as the kernel read them. */
  nearMisses: FlagNearMiss[];
}

export interface FlagNearMiss {
  flag: RegistryFlagName;
  element: string;
  /** The element's text as written, e.g. ` true ` or `TRUE`. */
  text: string;
  line?: number;
}

type XmlNode = Record<string, unknown>;

const ROOT_ELEMENT = 'wso2registry';
const STATIC_CONFIGURATION = 'staticConfiguration';
const TEXT_KEY = '#text';
const metaDataKey = readMetaDataKey();

/** `<oldApimHome>/repository/conf/registry.xml`, which holds the flags the last start of 3.1.0 used. */
export function registryXmlPath(oldApimHome: string): string {
  return path.join(oldApimHome, 'repository', 'conf', 'registry.xml');
}

export async function readRegistryVersioningFlags(file: string): Promise<RegistryFlagsResult> {
  const xmlText = await readRegistryFile(file);
  return parseRegistryVersioningFlags(xmlText, file);
}

export function parseRegistryVersioningFlags(xmlText: string, file: string): RegistryFlagsResult {
  const text = stripByteOrderMark(xmlText);
  assertWellFormed(text, file);
  const document = parseDocument(text);
  const staticConfiguration = findStaticConfiguration(document, text, file);
  const flags: RegistryVersioningFlags = { properties: false, comments: false, tags: false, ratings: false };
  const absent: RegistryFlagName[] = [];
  const nearMisses: FlagNearMiss[] = [];
  for (const name of REGISTRY_FLAG_NAMES) {
    const found = staticConfiguration ? readFlag(staticConfiguration, name, text, file) : undefined;
    if (found === undefined) {
      absent.push(name);
      continue;
    }
    // RegistryConfigurationProcessor (kernel 4.6.0): `text.equals("true")`, no trim, case-sensitive.
    flags[name] = found.text === 'true';
    if (found.text !== 'true' && found.text !== 'false') {
      nearMisses.push({
        flag: name,
        element: REGISTRY_FLAG_ELEMENTS[name],
        text: found.text,
        ...(found.line === undefined ? {} : { line: found.line }),
      });
    }
  }
  return { file, flags, absent, nearMisses };
}

async function readRegistryFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) {
      throw new InputError({
        file,
        message:
          'not found: oldApimHome must point at the API-M 3.1.0 home, the folder that holds repository/conf/registry.xml',
      });
    }
    throw new InputError({ file, message: `cannot be read: ${errorMessage(error)}` }, { cause: error });
  }
}

function isErrnoCode(error: unknown, code: string): boolean {
  return error instanceof Error && 'code' in error && error.code === code;
}

function stripByteOrderMark(text: string): string {
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

function assertWellFormed(text: string, file: string): void {
  const result = XMLValidator.validate(text);
  if (result === true) return;
  const { msg, line, col } = result.err;
  throw new InputError({
    file,
    line,
    column: col,
    message: `is not well-formed XML: ${msg}; fix the file (API-M 3.1.0 could not read it either) or restore it from the 3.1.0 home's backup`,
  });
}

function parseDocument(text: string): XmlNode {
  const parser = new XMLParser({
    ignoreAttributes: true,
    parseTagValue: false,
    trimValues: false,
    alwaysCreateTextNode: true,
    captureMetaData: true,
    // Every element as a list, so a repeated element is seen rather than silently merged.
    isArray: () => true,
  });
  const parsed: unknown = parser.parse(text);
  if (!isXmlNode(parsed)) throw new Error('fast-xml-parser returned no document object');
  return parsed;
}

function findStaticConfiguration(document: XmlNode, text: string, file: string): XmlNode | undefined {
  const root = childElements(document, ROOT_ELEMENT);
  if (root.length !== 1 || !root[0]) {
    throw new InputError({
      file,
      message: `has no <${ROOT_ELEMENT}> root element: this is not a WSO2 registry.xml; oldApimHome must point at the API-M 3.1.0 home`,
    });
  }
  const matches = childElements(root[0], STATIC_CONFIGURATION);
  if (matches.length > 1) throwRepeated(matches, STATIC_CONFIGURATION, text, file);
  return matches[0];
}

function readFlag(
  parent: XmlNode,
  name: RegistryFlagName,
  text: string,
  file: string,
): { text: string; line?: number } | undefined {
  const element = REGISTRY_FLAG_ELEMENTS[name];
  const matches = childElements(parent, element);
  if (matches.length > 1) throwRepeated(matches, element, text, file);
  const node = matches[0];
  if (!node) return undefined;
  const value = textContent(node);
  const line = lineOf(node, text);
  if (value === undefined) {
    throw new InputError({
      file,
      line,
      message: `<${element}> must hold the text true or false, found child elements`,
    });
  }
  return { text: value, ...(line === undefined ? {} : { line }) };
}

function throwRepeated(nodes: XmlNode[], element: string, text: string, file: string): never {
  throw new InputError({
    file,
    line: lineOf(nodes[1], text),
    message: `<${element}> appears ${nodes.length} times; keep exactly one`,
  });
}

function childElements(node: XmlNode, name: string): XmlNode[] {
  const value = node[name];
  if (!Array.isArray(value)) return [];
  return value.filter(isXmlNode);
}

/** The element's text, or undefined when it holds child elements instead. */
function textContent(node: XmlNode): string | undefined {
  const keys = Object.keys(node).filter((key) => key !== TEXT_KEY);
  if (keys.length > 0) return undefined;
  const text = node[TEXT_KEY];
  return typeof text === 'string' ? text : '';
}

function lineOf(node: XmlNode | undefined, text: string): number | undefined {
  const metaData: unknown = node ? Reflect.get(node, metaDataKey) : undefined;
  if (!isXmlNode(metaData) || typeof metaData.startIndex !== 'number') return undefined;
  return countLines(text.slice(0, metaData.startIndex));
}

function countLines(prefix: string): number {
  let lines = 1;
  for (const char of prefix) if (char === '\n') lines += 1;
  return lines;
}

/** fast-xml-parser types its key as the `Symbol` wrapper; at run time it is a symbol, or a string without symbols. */
function readMetaDataKey(): PropertyKey {
  const key: unknown = XMLParser.getMetaDataSymbol();
  if (typeof key === 'symbol' || typeof key === 'string') return key;
  throw new Error('fast-xml-parser returned no metadata key');
}

function isXmlNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The versioning flags of the old home: registry.xml (what its last start used) beside its deployment.toml. */
export interface OldHomeVersioning {
  registry: RegistryFlagsResult;
  /** What the old deployment.toml would render into registry.xml at the next start; absent without the file. */
  deploymentToml?: { file: string; flags: RegistryVersioningFlags };
  /** Ready-made warnings, each naming its file and line: near misses, disagreements, an unreadable deployment.toml. */
  warnings: string[];
}

/**
 * Reads both. registry.xml decides, since it is what the server that wrote the data last started with; the old
 * deployment.toml only shows what 3.1.0 would render at its next start, so a disagreement is a warning.
 */
export async function readOldHomeVersioning(oldApimHome: string): Promise<OldHomeVersioning> {
  const registry = await readRegistryVersioningFlags(registryXmlPath(oldApimHome));
  const warnings = registry.nearMisses.map(
    (miss) =>
      `${registry.file}${miss.line === undefined ? '' : `:${miss.line}`}: <${miss.element}> is ${JSON.stringify(miss.text)}, ` +
      `not exactly true: carbon-kernel compares it with equals("true"), so API-M 3.1.0 had ${miss.flag} versioning off and ` +
      `wrote ${mappingTable(miss.flag)} rows without REG_VERSION; apim-migrate takes it as off and keeps those rows`,
  );
  const file = path.join(oldApimHome, 'repository', 'conf', 'deployment.toml');
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return { registry, warnings };
  let keys;
  try {
    keys = readStaticConfigurationVersioning(text, file, REGISTRY_FLAG_NAMES);
  } catch (error) {
    warnings.push(
      `${file} cannot be read, so its versioning keys were not compared with registry.xml: ${errorMessage(error)}`,
    );
    return { registry, warnings };
  }
  const flags: RegistryVersioningFlags = { properties: false, comments: false, tags: false, ratings: false };
  for (const name of REGISTRY_FLAG_NAMES) {
    const key = keys[name];
    // registry.xml.j2 renders the value as text; only `true` is on in the rendered file.
    flags[name] = key?.value === true || key?.value === 'true';
    if (flags[name] === registry.flags[name]) continue;
    const where = `${file}${key?.line === undefined ? '' : `:${key.line}`}`;
    const tomlSays = key === undefined ? 'is not set (false by default)' : `is ${JSON.stringify(key.value)}`;
    warnings.push(
      `${name} versioning: <${REGISTRY_FLAG_ELEMENTS[name]}> in ${registry.file} (what the last start of 3.1.0 used) is ` +
        `${registry.flags[name] ? 'on' : 'off'}, but [static_configuration] versioning_${name}.enable in ${where} ${tomlSays}, ` +
        `which the next start would render as ${flags[name] ? 'on' : 'off'}; apim-migrate follows registry.xml`,
    );
  }
  return { registry, deploymentToml: { file, flags }, warnings };
}

function mappingTable(flag: RegistryFlagName): string {
  return VERSIONED_METADATA.find((meta) => meta.flag === flag)?.mappingTable ?? flag;
}
