import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import {
  buildServerCommand,
  buildServerFlags,
  windowsHomeProblem,
  type ServerStage,
} from '../../src/server/server-command.js';

const POSIX_HOME = '/opt/wso2am-4.2.0';
const WIN_HOME = 'C:\\wso2\\wso2am-4.2.0';
const SH = '/opt/wso2am-4.2.0/bin/api-manager.sh';
const BAT = 'C:\\wso2\\wso2am-4.2.0\\bin\\api-manager.bat';

const IDENTITY = ['-Dmigrate', '-Dcomponent=identity'];
const VALIDATE = ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0', '-DrunPreMigration'];
const APIM = ['-Dmigrate', '-DmigrateFromVersion=3.1.0', '-DmigratedVersion=4.2.0'];
const SAVE = '-DsaveInvalidDefinition';
const PROFILE = '-Dprofile=control-plane';
const JDK = '/usr/lib/jvm/java-17-openjdk-amd64';

interface Row {
  stage: ServerStage;
  platform: NodeJS.Platform;
  profile: 'control-plane' | undefined;
  save: boolean;
  command: string;
  args: string[];
  display: string;
}

/** stage × platform × profile × saveInvalidDefinitions, each with its expected command written out. */
const ROWS: Row[] = [
  // identity: saveInvalidDefinitions never matters
  {
    stage: 'identity',
    platform: 'linux',
    profile: undefined,
    save: false,
    command: 'sh',
    args: [SH, ...IDENTITY],
    display: `sh ${SH} -Dmigrate -Dcomponent=identity`,
  },
  {
    stage: 'identity',
    platform: 'linux',
    profile: undefined,
    save: true,
    command: 'sh',
    args: [SH, ...IDENTITY],
    display: `sh ${SH} -Dmigrate -Dcomponent=identity`,
  },
  {
    stage: 'identity',
    platform: 'linux',
    profile: 'control-plane',
    save: false,
    command: 'sh',
    args: [SH, ...IDENTITY, PROFILE],
    display: `sh ${SH} -Dmigrate -Dcomponent=identity -Dprofile=control-plane`,
  },
  {
    stage: 'identity',
    platform: 'linux',
    profile: 'control-plane',
    save: true,
    command: 'sh',
    args: [SH, ...IDENTITY, PROFILE],
    display: `sh ${SH} -Dmigrate -Dcomponent=identity -Dprofile=control-plane`,
  },
  {
    stage: 'identity',
    platform: 'win32',
    profile: undefined,
    save: false,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...IDENTITY],
    display: `${BAT} -Dmigrate -Dcomponent=identity`,
  },
  {
    stage: 'identity',
    platform: 'win32',
    profile: undefined,
    save: true,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...IDENTITY],
    display: `${BAT} -Dmigrate -Dcomponent=identity`,
  },
  {
    stage: 'identity',
    platform: 'win32',
    profile: 'control-plane',
    save: false,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...IDENTITY, PROFILE],
    display: `${BAT} -Dmigrate -Dcomponent=identity -Dprofile=control-plane`,
  },
  {
    stage: 'identity',
    platform: 'win32',
    profile: 'control-plane',
    save: true,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...IDENTITY, PROFILE],
    display: `${BAT} -Dmigrate -Dcomponent=identity -Dprofile=control-plane`,
  },
  // apim-validate: the only stage with -DsaveInvalidDefinition
  {
    stage: 'apim-validate',
    platform: 'linux',
    profile: undefined,
    save: false,
    command: 'sh',
    args: [SH, ...VALIDATE],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration`,
  },
  {
    stage: 'apim-validate',
    platform: 'linux',
    profile: undefined,
    save: true,
    command: 'sh',
    args: [SH, ...VALIDATE, SAVE],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -DsaveInvalidDefinition`,
  },
  {
    stage: 'apim-validate',
    platform: 'linux',
    profile: 'control-plane',
    save: false,
    command: 'sh',
    args: [SH, ...VALIDATE, PROFILE],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -Dprofile=control-plane`,
  },
  {
    stage: 'apim-validate',
    platform: 'linux',
    profile: 'control-plane',
    save: true,
    command: 'sh',
    args: [SH, ...VALIDATE, SAVE, PROFILE],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -DsaveInvalidDefinition -Dprofile=control-plane`,
  },
  {
    stage: 'apim-validate',
    platform: 'win32',
    profile: undefined,
    save: false,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...VALIDATE],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration`,
  },
  {
    stage: 'apim-validate',
    platform: 'win32',
    profile: undefined,
    save: true,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...VALIDATE, SAVE],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -DsaveInvalidDefinition`,
  },
  {
    stage: 'apim-validate',
    platform: 'win32',
    profile: 'control-plane',
    save: false,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...VALIDATE, PROFILE],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -Dprofile=control-plane`,
  },
  {
    stage: 'apim-validate',
    platform: 'win32',
    profile: 'control-plane',
    save: true,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...VALIDATE, SAVE, PROFILE],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -DrunPreMigration -DsaveInvalidDefinition -Dprofile=control-plane`,
  },
  // apim
  {
    stage: 'apim',
    platform: 'linux',
    profile: undefined,
    save: false,
    command: 'sh',
    args: [SH, ...APIM],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0`,
  },
  {
    stage: 'apim',
    platform: 'linux',
    profile: undefined,
    save: true,
    command: 'sh',
    args: [SH, ...APIM],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0`,
  },
  {
    stage: 'apim',
    platform: 'linux',
    profile: 'control-plane',
    save: false,
    command: 'sh',
    args: [SH, ...APIM, PROFILE],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -Dprofile=control-plane`,
  },
  {
    stage: 'apim',
    platform: 'linux',
    profile: 'control-plane',
    save: true,
    command: 'sh',
    args: [SH, ...APIM, PROFILE],
    display: `sh ${SH} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -Dprofile=control-plane`,
  },
  {
    stage: 'apim',
    platform: 'win32',
    profile: undefined,
    save: false,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...APIM],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0`,
  },
  {
    stage: 'apim',
    platform: 'win32',
    profile: undefined,
    save: true,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...APIM],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0`,
  },
  {
    stage: 'apim',
    platform: 'win32',
    profile: 'control-plane',
    save: false,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...APIM, PROFILE],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -Dprofile=control-plane`,
  },
  {
    stage: 'apim',
    platform: 'win32',
    profile: 'control-plane',
    save: true,
    command: 'cmd.exe',
    args: ['/d', '/c', BAT, ...APIM, PROFILE],
    display: `${BAT} -Dmigrate -DmigrateFromVersion=3.1.0 -DmigratedVersion=4.2.0 -Dprofile=control-plane`,
  },
];

describe('buildServerCommand', () => {
  it('has a row for every stage × platform × profile × saveInvalidDefinitions', () => {
    const keys = new Set(ROWS.map((row) => `${row.stage}|${row.platform}|${String(row.profile)}|${String(row.save)}`));
    expect(keys.size).toBe(3 * 2 * 2 * 2);
  });

  it.each(ROWS)(
    '$stage on $platform, profile $profile, save $save',
    ({ stage, platform, profile, save, command, args, display }) => {
      const apimHome = platform === 'win32' ? WIN_HOME : POSIX_HOME;
      const result = buildServerCommand({
        apimHome,
        javaHome: JDK,
        stage,
        platform,
        ...(profile ? { profile } : {}),
        saveInvalidDefinitions: save,
      });
      expect(result).toEqual({ command, args, display, env: { CARBON_HOME: apimHome, JAVA_HOME: JDK } });
      expect(buildServerFlags({ stage, ...(profile ? { profile } : {}), saveInvalidDefinitions: save })).toEqual(
        args.slice(platform === 'win32' ? 3 : 1),
      );
    },
  );

  it.each(['darwin', 'freebsd'] as const)('uses the Unix launcher on %s', (platform) => {
    expect(buildServerCommand({ apimHome: POSIX_HOME, javaHome: JDK, stage: 'apim', platform })).toEqual({
      command: 'sh',
      args: [SH, ...APIM],
      display: `sh ${SH} ${APIM.join(' ')}`,
      env: { CARBON_HOME: POSIX_HOME, JAVA_HOME: JDK },
    });
  });

  it.each([
    {
      title: 'a Unix home with spaces',
      platform: 'linux' as const,
      home: '/opt/my apps/wso2am 4.2.0',
      launcher: '/opt/my apps/wso2am 4.2.0/bin/api-manager.sh',
      display: "sh '/opt/my apps/wso2am 4.2.0/bin/api-manager.sh' -Dmigrate -Dcomponent=identity",
    },
    {
      title: 'a Unix home with a quote',
      platform: 'linux' as const,
      home: "/srv/o'brien/wso2am",
      launcher: "/srv/o'brien/wso2am/bin/api-manager.sh",
      display: "sh '/srv/o'\\''brien/wso2am/bin/api-manager.sh' -Dmigrate -Dcomponent=identity",
    },
    {
      title: 'a Unix home with a $',
      platform: 'linux' as const,
      home: '/srv/$HOME/wso2am',
      launcher: '/srv/$HOME/wso2am/bin/api-manager.sh',
      display: "sh '/srv/$HOME/wso2am/bin/api-manager.sh' -Dmigrate -Dcomponent=identity",
    },
    {
      title: 'a Windows home with spaces',
      platform: 'win32' as const,
      home: 'C:\\Program Files\\WSO2\\wso2am-4.2.0',
      launcher: 'C:\\Program Files\\WSO2\\wso2am-4.2.0\\bin\\api-manager.bat',
      display: '"C:\\Program Files\\WSO2\\wso2am-4.2.0\\bin\\api-manager.bat" -Dmigrate -Dcomponent=identity',
    },
    {
      title: 'a Windows home with parentheses',
      platform: 'win32' as const,
      home: 'C:\\Program Files (x86)\\wso2am',
      launcher: 'C:\\Program Files (x86)\\wso2am\\bin\\api-manager.bat',
      display: '"C:\\Program Files (x86)\\wso2am\\bin\\api-manager.bat" -Dmigrate -Dcomponent=identity',
    },
    {
      title: 'a Unix home with &, | and %, which sh never reads',
      platform: 'linux' as const,
      home: '/srv/R&D|100%/wso2am',
      launcher: '/srv/R&D|100%/wso2am/bin/api-manager.sh',
      display: "sh '/srv/R&D|100%/wso2am/bin/api-manager.sh' -Dmigrate -Dcomponent=identity",
    },
  ])('quotes $title in the display only', ({ platform, home, launcher, display }) => {
    const result = buildServerCommand({ apimHome: home, javaHome: JDK, stage: 'identity', platform });
    expect(result.display).toBe(display);
    const launcherArg = platform === 'win32' ? result.args[2] : result.args[0];
    expect(launcherArg).toBe(launcher);
    expect(result.args.every((arg) => !arg.startsWith('"') && !arg.startsWith("'"))).toBe(true);
  });

  it.each([
    ['&', 'D:\\R&D\\wso2am'],
    ['|', 'D:\\a|b\\wso2am'],
    ['%', 'D:\\%TEMP%\\wso2am'],
    ['^', 'D:\\x^y\\wso2am'],
    ['<', 'D:\\in<put\\wso2am'],
    ['>', 'D:\\out>put\\wso2am'],
    ['"', 'D:\\quo"te\\wso2am'],
    ['!', 'D:\\bang!\\wso2am'],
  ])('refuses a Windows home with %s: cmd.exe would read it as more than a path', (character, home) => {
    const build = () => buildServerCommand({ apimHome: home, javaHome: JDK, stage: 'apim', platform: 'win32' });
    expect(build).toThrow(InputError);
    expect(build).toThrow(`apimHome ${home} holds "${character}", which cmd.exe reads as commands`);
    expect(windowsHomeProblem(home)).toContain(`"${character}"`);
  });

  it('names every such character of a Windows home once', () => {
    expect(windowsHomeProblem('C:\\a&b&c%d%\\wso2am')).toMatch(/holds "&", "%", which cmd\.exe/);
    expect(windowsHomeProblem('C:\\Program Files (x86)\\wso2am-4.2.0')).toBeUndefined();
  });

  it('passes the variables it is given to the server run, by name', () => {
    const command = buildServerCommand({
      apimHome: POSIX_HOME,
      javaHome: JDK,
      stage: 'apim',
      platform: 'linux',
      passEnv: ['SHARED_DB_PASSWORD', 'MY_EXTRA'],
    });
    expect(command.passEnv).toEqual(['SHARED_DB_PASSWORD', 'MY_EXTRA']);
    expect(command.display).not.toContain('SHARED_DB_PASSWORD');
  });
});
