#!/bin/sh
# ---------------------------------------------------------------------------------------------------------------
# The "JVM" of the stand-in WSO2 API Manager 4.2.0 (bin/api-manager.sh runs it as its child, where the real
# launcher runs java). A simulation: no Java, no database. It prints the log records the real server and its
# migration clients print, in the real layouts, and stays up until it is stopped.
#
#   sh stand-in-jvm.sh <JVM options, -Dcarbon.home=HOME among them> org.wso2.carbon.bootstrap.Bootstrap [args]
#
# As the real JVM (carbon-kernel 4.8.1 Main):
#   - writes <carbon.home>/wso2carbon.pid with its own pid first (carbon.home from the JVM options, "." if none);
#   - then turns the program arguments into properties: -Dk=v, a bare -Dk means "true", the last one wins; JVM
#     options -Dk=v count too (a bare JVM option -Dk is "");
#   - console (stdout): [yyyy-MM-dd HH:mm:ss,SSS] LEVEL - ShortLoggerName message   ([%d{DEFAULT}] %5p - %c{1} %m)
#     <carbon.home>/repository/logs/wso2carbon.log: TID: [-1234] [] [date] LEVEL {full.logger.Name} - message
#     stack-trace lines go raw to both;
#   - startup in kernel order: the identity client while IdentityCoreServiceComponent activates (early), the API-M
#     client and its pre-migration validation in the startup observers, then "Server           :  WSO2 API
#     Manager-4.2.0", then "WSO2 Carbon started in N sec" last; then it stays up;
#   - SIGTERM: the shutdown lines, exit 143 (SIGINT: 130); nothing is removed (wso2carbon.pid stays).
#
# A normal start (no -Dmigrate, no API-M migration jar in dropins; the guide's Server Startup Actions) also:
#   - writes the registry's search index where API-M 4.2.0 keeps it: <carbon.home>/solr/data (default.json
#     "indexing.location", the dataDir of repository/conf/solr/registry-indexing/core.properties.j2), with an
#     index/ folder of files;
#   - opens the management HTTPS port: bin/stand-in-https.mjs (run with node, a child of this script, ended with
#     it), on 127.0.0.1, port 9443 ([transport.https.properties] port) + [server] offset of deployment.toml
#     (-DportOffset wins, as carbon-kernel's CarbonUtils reads it), with a self-signed certificate made by openssl
#     into <carbon.home>/repository/resources/security/stand-in-https/ (localhost.crt; where the real server keeps
#     its keystores), with the responder's log and its pid in the file "ready" once it listens;
#     it answers DCR, the password grant and GET /api/am/publisher/v4/apis (the super tenant's rows of AM_API in
#     [database.apim_db], through psql or mariadb/mysql), [super_admin] username and password (default
#     admin/admin) being the admin's credentials; its header says more. node and openssl must be on PATH.
#
# The migration clients:
#   identity  with -Dmigrate -Dcomponent=<...identity...> and repository/components/dropins/
#             org.wso2.carbon.is.migration-*.jar; without the jar (or with bundle-inactive) only WARN "Waiting for
#             migration client." and the start stalls. migration-resources/migration-config.yaml is read the way
#             SnakeYAML loads it into the client's Config class (unknown keys and bad values are fatal; booleans
#             are true/yes/on, false/no/off in any case), then the client's real version walk over its version
#             list (5.0.0 ... 6.0.0, plus 6.1.0 for clients 1.0.226-1.0.229 or, for other versions, when the yaml
#             has a 6.1.0 entry). Stand-in checks of apim-migrate's required edits fail the run with "Migration
#             process was stopped.": currentVersion must be "5.10.0"; EncryptionAdminFlowMigrator,
#             EncryptionUserFlowMigrator, SCIMGroupRoleMigrator and the 6.0.0 step3 consent SchemaMigrator must be
#             gone (they fail when the walk reaches them).
#   API-M     with dropins/org.wso2.carbon.apimgt.migrate.client-4.2.0*.jar, at every start (-Dmigrate and
#             -Dcomponent are not read): -DrunPreMigration[=step] runs the pre-migration validation, otherwise
#             the migration from -DmigrateFromVersion to -DmigratedVersion ("null" when not given), then the
#             re-indexing, then the success line, unconditionally.
#
# Behaviour switches, one per line in <carbon.home>/stand-in.conf ('#' starts a comment):
#   fail                    the migration client fails (identity: "Migration process was stopped."; API-M: "API
#                           Migration exception occurred while migrating", still followed by the success line;
#                           validation: "Error while running the pre-migration validation")
#   error-before-success    a migration-client ERROR, then the client carries on to its success line
#   harmless-error          API-M: the "SQL script not found at .../migration-4.1.0_to_4.2.0/..." ERROR
#   client-error            an ERROR from a client class whose name has no "Migrat" (identity DataSourceManager,
#                           API-M RegistryServiceImpl, validator Utils); the client carries on
#   error-outside-window    one ERROR of a non-migration component before the client starts, one after its
#                           verdict (before "WSO2 Carbon started")
#   no-verdict              the client starts a step and goes quiet; the server goes on to "WSO2 Carbon started"
#   hang                    the client never finishes; the server never finishes starting
#   die-early               the JVM crashes (exit 1) before the client's verdict
#   bundle-inactive         the identity jar is in dropins but its bundle stays INSTALLED: as without the jar
#   restart-once            before any client line the JVM restarts itself once (CarbonServerManager, exit 121;
#                           the launcher starts it again); the marker <carbon.home>/stand-in-restarted-once
#                           keeps it to once per home
#   invalid-definitions=N   N invalid APIs in the pre-migration validation, cycling through: OpenAPI invalid,
#                           GraphQL invalid, WSDL invalid, missing in the database, unhandled OpenAPI exception,
#                           GraphQL validation error, WSDL file error, "Error while getting wsdl file"
#   slow-ms=N               N ms after every log record
#   silent-ms=N             API-M: after "Starting AM_DB data migration from 3.2.0 to 4.0.0" the log is silent for N
#                           ms, then the client carries on (a long step of a large migration)
#   db-sleep-seconds=N      API-M: at the same point, the server's database session runs a statement of N seconds
#                           on [database.apim_db] of deployment.toml (psql: SELECT pg_sleep(N); mysql/mariadb:
#                           SELECT SLEEP(N)), with that entry's url, username and password ($env{NAME} read from
#                           the environment, as WSO2 resolves it), the log silent meanwhile; its client tool must be
#                           on PATH (stand-in: a message on stderr and exit 2 otherwise)
#   ignore-term             SIGTERM/SIGINT do not stop the server (a forced kill is needed)
#   print-env=NAME          logs the value of the environment variable NAME in a datasource line, as a server
#                           that logs a password would
#   organization-column     API-M, PostgreSQL apim_db only: the 3.2.0 -> 4.0.0 registry migration meets the 4.2.0
#                           DAO's query of the ORGANIZATION column before the schema has it (api-manager#2042):
#                           twice ERROR ApiMgtDAO "Failed to retrieve API categories for organization carbon.super"
#                           with PgJDBC's 'ERROR: column "organization" does not exist' below, then the client fails
#                           ("API Migration exception occurred while migrating")
#   hostile-output          API-M: registry text echoed as it is, after the re-indexing: API names that hold a
#                           runner command (##[set-output ...]), escape sequences and the client's own success
#                           line, stack-trace lines that start with ::add-mask:: and ::stop-commands::, and an
#                           ERROR that quotes a whole success record; the client then carries on
#   start-fails             the start fails as carbon-kernel 4.8.1's Main does when the configuration cannot be
#                           applied: SEVERE "Error while performing configuration changes" (java.util.logging, on
#                           stderr) and exit 1, before any log record; the launcher then ends with 0
#   init-fatal              the start fails later, as carbon-kernel 4.8.1's CarbonServerManager logs it: FATAL
#                           "WSO2 Carbon initialization Failed" with its exception below; the JVM stays up without
#                           printing "WSO2 Carbon started"
#   no-https                normal start: the server starts but nothing answers on the management port
#   index-delay-ms=N        normal start: for N ms after the start the Publisher API lists no API (the new index is
#                           being built); 0 by default (the real server starts indexing 35 s after its start)
#   index-never-completes   normal start: the index never holds the last API: the Publisher API's count stays one
#                           short of AM_API's
# An unknown switch: a message on stderr and exit 2.
# ---------------------------------------------------------------------------------------------------------------

# Dates in English and decimal points in the sleep times, whatever the caller's locale.
LC_ALL=C
export LC_ALL

# The JVM ignores SIGPIPE: a server whose console reader went away (a killed apim-migrate) keeps running, its
# console lines lost, until it is stopped.
trap '' PIPE

# This script's folder, where stand-in-https.mjs lies too.
BIN_DIR=$(dirname "$0")

NL='
'
PROPS=""

# set_prop KEY VALUE: a system property (a later one wins).
set_prop() {
  PROPS="$PROPS$1=$2$NL"
}

# get_prop KEY: sets VALUE to the property's value; fails when it is not set.
get_prop() {
  VALUE=""
  _found=1
  _ifs=$IFS
  IFS=$NL
  set -f
  for _entry in $PROPS; do
    case "$_entry" in
      "$1="*)
        VALUE=${_entry#*=}
        _found=0
        ;;
    esac
  done
  set +f
  IFS=$_ifs
  return $_found
}

# --- the java command line: JVM options up to the main class, then the program arguments ----------------------

main_class=""
while [ $# -gt 0 ]; do
  option=$1
  shift
  case "$option" in
    -classpath | -cp | --class-path | --add-opens | --add-exports | --add-reads | --add-modules | --module-path | -p)
      [ $# -gt 0 ] && shift
      ;;
    -D*=*)
      key=${option#-D}
      set_prop "${key%%=*}" "${option#*=}"
      ;;
    -D*) set_prop "${option#-D}" "" ;;
    -*) ;;
    *)
      main_class=$option
      break
      ;;
  esac
done
if [ "$main_class" != org.wso2.carbon.bootstrap.Bootstrap ]; then
  if [ -z "$main_class" ]; then
    echo "Usage: java [options] <mainclass> [args...]" >&2
  else
    echo "Error: Could not find or load main class $main_class" >&2
    echo "Caused by: java.lang.ClassNotFoundException: $main_class" >&2
  fi
  exit 1
fi

# Main: carbon.home defaults to "."; the start time; the pid file, before the arguments are read.
get_prop carbon.home || {
  set_prop carbon.home .
  VALUE=.
}
PID_HOME=$VALUE
STARTED_AT=$(date +%s)
if ! { printf '%s\n' "$$" >"$PID_HOME/wso2carbon.pid"; } 2>/dev/null; then
  echo "$(date '+%b %d, %Y %l:%M:%S %p') org.wso2.carbon.server.Main writePID" >&2
  echo "WARNING: Cannot write wso2carbon.pid file" >&2
fi

# Main.processCmdLineArgs.
for argument do
  case "$argument" in
    -D*=*)
      key=${argument#-D}
      set_prop "${key%%=*}" "${argument#*=}"
      ;;
    -D*) set_prop "${argument#-D}" true ;;
    *)
      case "$(printf '%s' "$argument" | tr '[:lower:]' '[:upper:]')" in
        *HELP)
          echo "Usage: api-manager.sh [commands] [system-properties]  (stand-in: no usage text of its own)"
          exit 0
          ;;
        *CLEANREGISTRY) set_prop carbon.registry.clean true ;;
      esac
      ;;
  esac
done

get_prop carbon.home
HOME_DIR=$VALUE
CONF_FILE="$HOME_DIR/stand-in.conf"
LOG_DIR="$HOME_DIR/repository/logs"
LOG_FILE="$LOG_DIR/wso2carbon.log"
DROPINS="$HOME_DIR/repository/components/dropins"
RESOURCES="$HOME_DIR/migration-resources"

# --- the behaviour switches -----------------------------------------------------------------------------------

FAIL=false
ERROR_BEFORE_SUCCESS=false
HARMLESS_ERROR=false
CLIENT_ERROR=false
ERROR_OUTSIDE_WINDOW=false
NO_VERDICT=false
HANG=false
DIE_EARLY=false
BUNDLE_INACTIVE=false
RESTART_ONCE=false
INVALID_DEFINITIONS=0
SLOW_MS=0
SILENT_MS=0
DB_SLEEP_SECONDS=0
IGNORE_TERM=false
PRINT_ENV=""
HOSTILE_OUTPUT=false
ORGANIZATION_COLUMN=false
START_FAILS=false
INIT_FATAL=false
NO_HTTPS=false
INDEX_DELAY_MS=0
INDEX_NEVER_COMPLETES=false

number_or_die() {
  case "$2" in
    '' | *[!0-9]*)
      echo "stand-in: $1 needs a whole number in $CONF_FILE, got '$2'" >&2
      exit 2
      ;;
  esac
}

if [ -f "$CONF_FILE" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=$(printf '%s' "${line%%#*}" | tr -d ' \t\r')
    case "$line" in
      '') ;;
      fail) FAIL=true ;;
      error-before-success) ERROR_BEFORE_SUCCESS=true ;;
      harmless-error) HARMLESS_ERROR=true ;;
      client-error) CLIENT_ERROR=true ;;
      error-outside-window) ERROR_OUTSIDE_WINDOW=true ;;
      no-verdict) NO_VERDICT=true ;;
      hang) HANG=true ;;
      die-early) DIE_EARLY=true ;;
      bundle-inactive) BUNDLE_INACTIVE=true ;;
      restart-once) RESTART_ONCE=true ;;
      ignore-term) IGNORE_TERM=true ;;
      print-env=*) PRINT_ENV=${line#*=} ;;
      hostile-output) HOSTILE_OUTPUT=true ;;
      organization-column) ORGANIZATION_COLUMN=true ;;
      start-fails) START_FAILS=true ;;
      init-fatal) INIT_FATAL=true ;;
      no-https) NO_HTTPS=true ;;
      index-never-completes) INDEX_NEVER_COMPLETES=true ;;
      index-delay-ms=*)
        INDEX_DELAY_MS=${line#*=}
        number_or_die index-delay-ms "$INDEX_DELAY_MS"
        ;;
      invalid-definitions=*)
        INVALID_DEFINITIONS=${line#*=}
        number_or_die invalid-definitions "$INVALID_DEFINITIONS"
        ;;
      slow-ms=*)
        SLOW_MS=${line#*=}
        number_or_die slow-ms "$SLOW_MS"
        ;;
      silent-ms=*)
        SILENT_MS=${line#*=}
        number_or_die silent-ms "$SILENT_MS"
        ;;
      db-sleep-seconds=*)
        DB_SLEEP_SECONDS=${line#*=}
        number_or_die db-sleep-seconds "$DB_SLEEP_SECONDS"
        ;;
      *)
        echo "stand-in: unknown switch '$line' in $CONF_FILE" >&2
        exit 2
        ;;
    esac
  done <"$CONF_FILE"
fi
SLOW_SECONDS=$(awk -v ms="$SLOW_MS" 'BEGIN { printf "%.3f", ms / 1000 }')

# Main.handleConfiguration: the config mapper fails; java.util.logging's console handler writes to stderr.
if [ "$START_FAILS" = true ]; then
  {
    echo "$(date '+%b %d, %Y %l:%M:%S %p') org.wso2.carbon.server.Main handleConfiguration"
    echo "SEVERE: Error while performing configuration changes"
    echo "org.wso2.config.mapper.ConfigParserException: Error while parsing the deployment.toml (stand-in: start-fails)"
    echo "	at org.wso2.config.mapper.ConfigParser.parse(ConfigParser.java:98)"
    echo "	at org.wso2.carbon.server.Main.handleConfiguration(Main.java:235)"
    echo "	at org.wso2.carbon.server.Main.main(Main.java:106)"
  } >&2
  exit 1
fi

# --- log records ----------------------------------------------------------------------------------------------

mkdir -p "$LOG_DIR" 2>/dev/null
SLEEP_PID=""
FAKE_MS=0
case "$(date '+%3N' 2>/dev/null)" in
  [0-9][0-9][0-9]) NATIVE_MS=true ;;
  *) NATIVE_MS=false ;;
esac

# pause: waits slow-ms; a trapped signal ends the wait at once.
pause() {
  [ "$SLOW_MS" -gt 0 ] || return 0
  sleep "$SLOW_SECONDS" </dev/null >/dev/null 2>&1 &
  SLEEP_PID=$!
  wait "$SLEEP_PID" 2>/dev/null
  SLEEP_PID=""
}

# raw LINE...: unformatted lines (a stack trace), to the console and the log file.
raw() {
  for _line do
    printf '%s\n' "$_line"
    printf '%s\n' "$_line" >>"$LOG_FILE"
  done
}

# log LEVEL LOGGER MESSAGE: one record; the console shows the logger's short name, the file its full name.
log() {
  if [ "$NATIVE_MS" = true ]; then
    _stamp=$(date '+%Y-%m-%d %H:%M:%S,%3N')
  else
    FAKE_MS=$(((FAKE_MS + 137) % 1000))
    _ms=$((1000 + FAKE_MS))
    _stamp="$(date '+%Y-%m-%d %H:%M:%S'),${_ms#1}"
  fi
  printf '[%s] %5s - %s %s\n' "$_stamp" "$1" "${2##*.}" "$3"
  printf 'TID: [-1234] [] [%s] %5s {%s} - %s\n' "$_stamp" "$1" "$2" "$3" >>"$LOG_FILE"
  pause
}

CORE=org.wso2.carbon.core.internal.CarbonCoreActivator
FINALIZER=org.wso2.carbon.core.internal.StartupFinalizerServiceComponent
SERVER_MANAGER=org.wso2.carbon.core.init.CarbonServerManager
IS_CORE=org.wso2.carbon.identity.core.internal.IdentityCoreServiceComponent
IS_PACKAGE=org.wso2.carbon.is.migration
IS_CLIENT=$IS_PACKAGE.MigrationClientImpl
IS_VERSION=$IS_PACKAGE.VersionMigration
IS_CONFIG=$IS_PACKAGE.config.Config
IS_SCHEMA=$IS_PACKAGE.service.SchemaMigrator
IS_DATASOURCE=$IS_PACKAGE.DataSourceManager
IS_EXCEPTION=org.wso2.carbon.identity.core.migrate.MigrationClientException
AM_PACKAGE=org.wso2.carbon.apimgt.migration
AM_CLIENT=$AM_PACKAGE.APIMMigrationClient
AM_COMPONENT=$AM_PACKAGE.client.internal.APIMMigrationServiceComponent
AM_HOPS=$AM_PACKAGE.migrator.client
AM_AMDB=$AM_PACKAGE.util.AMDBUtil
AM_REGISTRY=$AM_PACKAGE.util.RegistryServiceImpl
AM_REINDEX=$AM_PACKAGE.migrator.commonMigrators.ArtifactReIndexingMigrator
AM_SHARED_DAO=$AM_PACKAGE.dao.SharedDAO
AM_EXCEPTION=$AM_PACKAGE.APIMigrationException
AM_VALIDATION=$AM_PACKAGE.validator.ValidationHandler
AM_VALIDATOR=$AM_PACKAGE.validator.validators.APIValidator
AM_APP_VALIDATOR=$AM_PACKAGE.validator.validators.ApplicationValidator
AM_VALIDATOR_UTILS=$AM_PACKAGE.validator.utils.Utils
IS_LOG=" WSO2 Product Migration Service Task : "
AM_LOG="WSO2 API-M Migration Task : "
DOTS=............................................................................................
DASHES=--------------------------------------------------------------------------------------------------

# --- shutdown -------------------------------------------------------------------------------------------------

# on_signal STATUS: Carbon's shutdown hook, then the JVM's exit status for the signal.
on_signal() {
  if [ "$IGNORE_TERM" = true ]; then
    log WARN "$SERVER_MANAGER" "Shutdown hook triggered, but the server is busy and keeps running (stand-in: ignore-term)"
    return
  fi
  [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null
  SLOW_MS=0
  log INFO "$SERVER_MANAGER" "Shutdown hook triggered...."
  log INFO "$SERVER_MANAGER" "Gracefully shutting down WSO2 API Manager..."
  log INFO org.wso2.carbon.core.ServerManagement "Starting to switch to maintenance mode..."
  stop_https
  log INFO org.wso2.carbon.core.ServerManagement "Stopped all transport listeners"
  log INFO "$SERVER_MANAGER" "Shutting down OSGi framework..."
  log INFO "$SERVER_MANAGER" "Shutdown complete"
  log INFO "$SERVER_MANAGER" "Halting JVM"
  exit "$1"
}
trap 'on_signal 143' TERM
trap 'on_signal 130' INT

# The management HTTPS port of a normal start (see the header).
HTTPS_PID=""
stop_https() {
  [ -n "$HTTPS_PID" ] || return 0
  kill "$HTTPS_PID" 2>/dev/null
  wait "$HTTPS_PID" 2>/dev/null
  HTTPS_PID=""
}

# stay_up: the JVM keeps running (and answering signals) until it is stopped.
stay_up() {
  while :; do
    sleep 1 </dev/null >/dev/null 2>&1 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" 2>/dev/null
    SLEEP_PID=""
  done
}

# die_early: the JVM crashes.
die_early() {
  raw "#" \
    "# A fatal error has been detected by the Java Runtime Environment (stand-in: die-early)" \
    "#"
  exit 1
}

# outside_error WHEN: the error-outside-window record of a component that is no migration client.
outside_error() {
  [ "$ERROR_OUTSIDE_WINDOW" = true ] || return 0
  case "$1" in
    before)
      log ERROR org.wso2.carbon.ndatasource.core.DataSourceRepository \
        "Error in updating data source [WSO2_MB_STORE_DB] at path '/repository/components/org.wso2.carbon.ndatasource/WSO2_MB_STORE_DB' (stand-in: error-outside-window)"
      ;;
    after)
      log ERROR org.wso2.carbon.apimgt.impl.APIManagerConfiguration \
        "Error while reading the throttling configuration of the gateway (stand-in: error-outside-window)"
      ;;
  esac
}

# ===============================================================================================================
# The identity migration client (wso2-extensions identity-migration-resources 1.0.225 and its framework hook)
# ===============================================================================================================

IS_CONFIG_FILE="${HOME_DIR%/}/migration-resources/migration-config.yaml"
[ "$HOME_DIR" = / ] && IS_CONFIG_FILE=/migration-resources/migration-config.yaml

# is_stopped EXCEPTION-LINE...: the client's catch-all: ERROR "Migration process was stopped.", then its last dots.
is_stopped() {
  log ERROR "$IS_CLIENT" "Migration process was stopped."
  raw "$@"
  is_closing_dots
}

is_closing_dots() {
  for _ in 1 2 3 4 5 6 7 8 9; do log INFO "$IS_CLIENT" "$DOTS"; done
}

# yaml_bool VALUE: how SnakeYAML 1.x reads a boolean field: true, false, or "" when it cannot.
yaml_bool() {
  case "$(printf '%s' "$1" | tr '[:upper:]' '[:lower:]')" in
    true | yes | on) echo true ;;
    false | no | off) echo false ;;
    *) echo "" ;;
  esac
}

# is_model: the parts of migration-config.yaml the client reads, one per line, fields split by '|':
#   K|line|key|value                                   a top-level key (value unquoted, comment dropped)
#   V|version                                          an entry of versions
#   M|version|name|order|location|schema               a migrator of that entry
is_model() {
  awk '
    BEGIN { q = sprintf("%c", 39) }
    function value(text,   at) {
      sub(/^[^:]*:[ \t]*/, "", text)
      if (substr(text, 1, 1) == "\"" || substr(text, 1, 1) == q) {
        at = index(substr(text, 2), substr(text, 1, 1))
        return at ? substr(text, 2, at - 1) : substr(text, 2)
      }
      sub(/[ \t]+#.*$/, "", text)
      sub(/[ \t]+$/, "", text)
      return text
    }
    function flush() {
      if (have) printf "M|%s|%s|%s|%s|%s\n", version, name, order, location, schema
      have = 0
    }
    { sub(/\r$/, "") }
    /^[ \t]*#/ || /^[ \t]*$/ { next }
    /^[A-Za-z_][A-Za-z0-9_]*[ \t]*:/ {
      flush()
      key = $0
      sub(/[ \t]*:.*$/, "", key)
      printf "K|%d|%s|%s\n", NR, key, value($0)
      inside = key == "versions"
      next
    }
    !inside { next }
    /^[ \t-]*version[ \t]*:/ { flush(); version = value($0); printf "V|%s\n", version; next }
    /^[ \t-]*name[ \t]*:/ { flush(); name = value($0); order = ""; location = ""; schema = ""; have = 1; next }
    have && /^[ \t-]*order[ \t]*:/ { order = value($0); next }
    have && /^[ \t]*location[ \t]*:/ { location = value($0); next }
    have && /^[ \t]*schema[ \t]*:/ { schema = value($0); next }
    END { flush() }
  ' "$IS_CONFIG_FILE"
}

# is_load_config: Config.getInstance as SnakeYAML would fill it. Sets CFG_* and, when loading fails,
# CFG_PROBLEM (the exception's text lines, '|'-separated).
is_load_config() {
  CFG_PROBLEM=""
  CFG_ENABLED=false
  CFG_CURRENT="null"
  CFG_MIGRATE="null"
  CFG_TENANT_RANGE=false
  CFG_FIRST_TENANT=0
  CFG_LAST_TENANT=0
  CFG_VERSIONS=""
  CFG_STEPS=""
  IS_MODEL=$(is_model)
  _bean="org.wso2.carbon.is.migration.config.Config@5b7a8434"
  while IFS='|' read -r kind field1 field2 field3 field4 field5; do
    [ -z "$CFG_PROBLEM" ] || break
    case "$kind" in
      K)
        problem=""
        case "$field2" in
          migrationEnable | continueOnError | batchUpdate | ignoreForInactiveTenants | migrateTenantRange)
            parsed=$(yaml_bool "$field3")
            if [ -z "$parsed" ]; then
              problem="Can not set boolean field org.wso2.carbon.is.migration.config.Config.$field2 to null value"
            fi
            case "$field2" in
              migrationEnable) CFG_ENABLED=$parsed ;;
              migrateTenantRange) CFG_TENANT_RANGE=$parsed ;;
            esac
            ;;
          migrationStartingTenantID | migrationEndingTenantID)
            case "$field3" in
              '' | *[!0-9-]* | ?*-*) problem="For input string: \"$field3\"" ;;
            esac
            [ "$field2" = migrationStartingTenantID ] && CFG_FIRST_TENANT=$field3
            [ "$field2" = migrationEndingTenantID ] && CFG_LAST_TENANT=$field3
            ;;
          currentVersion) CFG_CURRENT=$field3 ;;
          migrateVersion) CFG_MIGRATE=$field3 ;;
          versions | currentEncryptionAlgorithm | migratedEncryptionAlgorithm) ;;
          isSeparateRegistryDB)
            if [ "$IS_CLIENT_MINOR" -lt 227 ]; then
              problem="Unable to find property '$field2' on class: org.wso2.carbon.is.migration.config.Config"
            elif [ -z "$(yaml_bool "$field3")" ]; then
              problem="Can not set boolean field org.wso2.carbon.is.migration.config.Config.$field2 to null value"
            fi
            ;;
          *) problem="Unable to find property '$field2' on class: org.wso2.carbon.is.migration.config.Config" ;;
        esac
        if [ -n "$problem" ]; then
          CFG_PROBLEM="org.yaml.snakeyaml.constructor.ConstructorException: Cannot create property=$field2 for JavaBean=$_bean| in 'reader', line 1, column 1:|$problem| in 'reader', line $field1, column $((${#field2} + 3)):"
        fi
        ;;
      V) CFG_VERSIONS="$CFG_VERSIONS$field1$NL" ;;
      M) CFG_STEPS="$CFG_STEPS$field1|$field2|$field3|$field4|$field5$NL" ;;
    esac
  done <<EOF
$IS_MODEL
EOF
}

# The client's version list (VersionMigrationHolder): "previous current" per line.
is_holder() {
  printf '%s\n' "5.0.0 5.0.0-SP1" "5.0.0-SP1 5.1.0" "5.1.0 5.2.0" "5.2.0 5.3.0" "5.3.0 5.4.0" "5.4.0 5.5.0" \
    "5.5.0 5.6.0" "5.6.0 5.7.0" "5.7.0 5.8.0" "5.8.0 5.9.0" "5.9.0 5.10.0" "5.10.0 5.11.0" "5.11.0 6.0.0"
  [ "$IS_HAS_610" = true ] && printf '%s\n' "6.0.0 6.1.0"
  return 0
}

# db_type SECTION: the database type of [database.SECTION] in deployment.toml, named as the clients name it.
db_type() {
  _type=$(awk -v section="[database.$1]" '
    { sub(/\r$/, "") }
    /^[ \t]*\[/ { line = $0; gsub(/[ \t]/, "", line); inside = (line == section); next }
    inside && /^[ \t]*type[ \t]*=/ { sub(/^[^=]*=[ \t]*/, ""); gsub(/["\047]/, ""); sub(/[ \t].*$/, ""); print; exit }
  ' "$HOME_DIR/repository/conf/deployment.toml" 2>/dev/null)
  case "$_type" in
    postgre | postgres | postgresql) echo postgresql ;;
    '') echo h2 ;;
    *) echo "$_type" ;;
  esac
}

# db_value SECTION KEY: a quoted value of [database.SECTION] in deployment.toml ("" when there is none).
db_value() {
  toml_string "database.$1" "$2"
}

# toml_string SECTION KEY: a quoted value of [SECTION] in deployment.toml ("" when there is none).
toml_string() {
  awk -v section="[$1]" -v key="$2" '
    { sub(/\r$/, "") }
    /^[ \t]*\[/ { line = $0; gsub(/[ \t]/, "", line); inside = (line == section); next }
    inside && $0 ~ "^[ \t]*" key "[ \t]*=" { sub(/^[^=]*=[ \t]*/, ""); sub(/^["\047]/, ""); sub(/["\047][ \t]*(#.*)?$/, ""); print; exit }
  ' "$HOME_DIR/repository/conf/deployment.toml" 2>/dev/null
}

# apim_db_connection: [database.apim_db] of deployment.toml as _url, _scheme (postgresql, mysql, ...), _host,
# _port ("" when the URL has none), _database, _user and _password ($env{NAME} read from the environment, as WSO2
# resolves it).
apim_db_connection() {
  _url=$(db_value apim_db url)
  _user=$(db_value apim_db username)
  _password=$(db_value apim_db password)
  case "$_password" in
    '$env{'*'}')
      _name=${_password#?env\{}
      _password=$(printenv "${_name%\}}")
      ;;
  esac
  _rest=${_url#jdbc:}
  _scheme=${_rest%%://*}
  _rest=${_rest#*://}
  _address=${_rest%%/*}
  _database=${_rest#*/}
  _database=${_database%%\?*}
  _host=${_address%%:*}
  _port=${_address#*:}
  [ "$_port" = "$_address" ] && _port=""
}

# toml_number SECTION KEY DEFAULT: a whole number under [SECTION] of deployment.toml (quoted or not), or DEFAULT.
toml_number() {
  _number=$(awk -v section="[$1]" -v key="$2" '
    { sub(/\r$/, "") }
    /^[ \t]*\[/ { line = $0; gsub(/[ \t]/, "", line); inside = (line == section); next }
    inside && $0 ~ "^[ \t]*" key "[ \t]*=" { sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]*#.*$/, ""); gsub(/["\047 \t]/, ""); print; exit }
  ' "$HOME_DIR/repository/conf/deployment.toml" 2>/dev/null)
  case "$_number" in
    '' ) echo "$3" ;;
    *[!0-9-]*)
      echo "stand-in: [$1] $2 in deployment.toml is not a whole number: '$_number'" >&2
      exit 2
      ;;
    *) echo "$_number" ;;
  esac
}

# wait_for PID: waits for a child; a trapped signal ends the wait at once (on_signal ends the child).
wait_for() {
  SLEEP_PID=$1
  wait "$SLEEP_PID" 2>/dev/null
  SLEEP_PID=""
}

# silent_step: the silent-ms and db-sleep-seconds switches (see the header).
silent_step() {
  if [ "$SILENT_MS" -gt 0 ]; then
    sleep "$(awk -v ms="$SILENT_MS" 'BEGIN { printf "%.3f", ms / 1000 }')" </dev/null >/dev/null 2>&1 &
    wait_for $!
  fi
  [ "$DB_SLEEP_SECONDS" -gt 0 ] || return 0
  apim_db_connection
  case "$_scheme" in
    postgresql)
      command -v psql >/dev/null 2>&1 || {
        echo "stand-in: db-sleep-seconds needs psql on PATH" >&2
        exit 2
      }
      PGPASSWORD=$_password PGAPPNAME="WSO2 API-M stand-in" psql -q -t -h "$_host" -p "${_port:-5432}" -U "$_user" \
        -d "$_database" -c "SELECT pg_sleep($DB_SLEEP_SECONDS)" </dev/null >/dev/null 2>&1 &
      ;;
    mysql | mariadb)
      _client=$(command -v mariadb || command -v mysql) || {
        echo "stand-in: db-sleep-seconds needs mariadb or mysql on PATH" >&2
        exit 2
      }
      MYSQL_PWD=$_password "$_client" --protocol=TCP -h "$_host" -P "${_port:-3306}" -u "$_user" "$_database" \
        -e "SELECT SLEEP($DB_SLEEP_SECONDS)" </dev/null >/dev/null 2>&1 &
      ;;
    *)
      echo "stand-in: db-sleep-seconds does not know the database of [database.apim_db] url '$_url'" >&2
      exit 2
      ;;
  esac
  wait_for $!
}

IS_TRIGGER_USED=false

# is_trigger NAME: whether this step is where the switches act (the first SchemaMigrator step, or the first step
# when none runs).
is_trigger() {
  [ "$IS_TRIGGER_USED" = false ] || return 1
  [ "$1" = SchemaMigrator ] || [ "$IS_HAS_SCHEMA_STEP" = false ] || return 1
  IS_TRIGGER_USED=true
}

# is_run_version VERSION: VersionMigration.migrate of one entry; returns 1 when the client stopped, 2 when it
# went quiet (no-verdict).
is_run_version() {
  _version=$1
  case "$NL$CFG_VERSIONS" in
    *"$NL$_version$NL"*) ;;
    *)
      # Config.getMigrateVersion finds no entry: getMigrators() dereferences null.
      is_stopped "java.lang.NullPointerException" \
        "	at org.wso2.carbon.is.migration.VersionMigration.getMigrators(VersionMigration.java:61)" \
        "	at org.wso2.carbon.is.migration.VersionMigration.migrate(VersionMigration.java:43)" \
        "	at org.wso2.carbon.is.migration.MigrationClientImpl.execute(MigrationClientImpl.java:76)"
      return 1
      ;;
  esac
  while IFS='|' read -r step_version name order location schema; do
    [ "$step_version" = "$_version" ] || continue
    log INFO "$IS_VERSION" "${IS_LOG}Version : $_version, Migration Step : $name of order : $order is starting........................... "
    case "$_version:$name" in
      *:EncryptionAdminFlowMigrator | *:EncryptionUserFlowMigrator | *:SCIMGroupRoleMigrator)
        is_stopped "$IS_EXCEPTION: $name must be removed for API-M (stand-in check)" \
          "	at org.wso2.carbon.is.migration.VersionMigration.migrate(VersionMigration.java:52)"
        return 1
        ;;
      6.0.0:SchemaMigrator)
        if [ "$location" = step3 ] && [ "$schema" = consent ]; then
          is_stopped "$IS_EXCEPTION: the step3 consent SchemaMigrator of 6.0.0 must be removed for API-M (stand-in check)" \
            "	at org.wso2.carbon.is.migration.VersionMigration.migrate(VersionMigration.java:52)"
          return 1
        fi
        ;;
    esac
    trigger=false
    is_trigger "$name" && trigger=true
    if [ "$trigger" = true ]; then
      [ "$DIE_EARLY" = true ] && die_early
      [ "$HANG" = true ] && stay_up
      [ "$NO_VERDICT" = true ] && return 2
    fi
    [ "$name" = SchemaMigrator ] || continue
    log INFO "$IS_SCHEMA" "${IS_LOG}Executing Identity Migration Scripts."
    if [ "$trigger" = true ] && [ "$CLIENT_ERROR" = true ]; then
      log ERROR "$IS_DATASOURCE" "Error while initializing datasource manager."
      raw "$IS_EXCEPTION: Error when looking up the Identity Data Source. (stand-in: client-error)" \
        "	at org.wso2.carbon.is.migration.DataSourceManager.initIdentityDataSource(DataSourceManager.java:152)" \
        "	at org.wso2.carbon.is.migration.DataSourceManager.<init>(DataSourceManager.java:55)"
    fi
    if [ "$trigger" = true ] && { [ "$FAIL" = true ] || [ "$ERROR_BEFORE_SUCCESS" = true ]; }; then
      if [ "$FAIL" = true ]; then why=fail; else why=error-before-success; fi
      statement="ALTER TABLE UM_TENANT ADD COLUMN UM_TENANT_UUID VARCHAR(36) NOT NULL DEFAULT 'NONE'"
      log ERROR "$IS_SCHEMA" "An error occurred while rolling back transactions. "
      raw "java.lang.Exception: Error occurred while executing : $statement (stand-in: $why)" \
        "	at org.wso2.carbon.is.migration.service.SchemaMigrator.executeSQL(SchemaMigrator.java:318)" \
        "	at org.wso2.carbon.is.migration.service.SchemaMigrator.executeSQLScript(SchemaMigrator.java:236)" \
        "	at org.wso2.carbon.is.migration.service.SchemaMigrator.migrate(SchemaMigrator.java:88)"
      if [ "$FAIL" = true ]; then
        is_stopped "$IS_EXCEPTION: Error occurred while executing : $statement (stand-in: fail)" \
          "	at org.wso2.carbon.is.migration.service.SchemaMigrator.migrate(SchemaMigrator.java:100)" \
          "	at org.wso2.carbon.is.migration.VersionMigration.migrate(VersionMigration.java:52)"
        return 1
      fi
      continue
    fi
    case "$schema" in
      um) database=$(db_type shared_db) ;;
      *) database=$(db_type apim_db) ;;
    esac
    script="$RESOURCES/$_version/dbscripts/${location:-null}/${schema:-null}/$database.sql"
    [ -f "$script" ] || log INFO "$IS_SCHEMA" "DB script: $script is not available for this migration"
    log INFO "$IS_SCHEMA" "${IS_LOG}Identity DB Migration script executed successfully."
  done <<EOF
$CFG_STEPS
EOF
  return 0
}

# is_execute: MigrationClientImpl.execute.
is_execute() {
  log INFO "$IS_CONFIG" "${IS_LOG}Loading Migration Configs, PATH:$IS_CONFIG_FILE"
  if [ ! -f "$IS_CONFIG_FILE" ]; then
    log ERROR "$IS_CONFIG" "Error while loading migration configs."
    raw "$IS_EXCEPTION: migration-config.yaml file does not exist at: $IS_CONFIG_FILE" \
      "	at org.wso2.carbon.is.migration.util.Utility.loadMigrationConfig(Utility.java:107)" \
      "	at org.wso2.carbon.is.migration.config.Config.getInstance(Config.java:66)"
    log INFO "$IS_CONFIG" "${IS_LOG}Successfully loaded the config file."
    is_stopped "java.lang.NullPointerException" \
      "	at org.wso2.carbon.is.migration.MigrationClientImpl.execute(MigrationClientImpl.java:41)"
    return
  fi
  is_load_config
  if [ -n "$CFG_PROBLEM" ]; then
    # A YAMLException is no MigrationClientException: it passes Config.getInstance and reaches the catch-all.
    old_ifs=$IFS
    IFS='|'
    set -f
    set -- $CFG_PROBLEM
    set +f
    IFS=$old_ifs
    is_stopped "$@" "	at org.yaml.snakeyaml.constructor.Constructor\$ConstructMapping.constructJavaBean2ndStep(Constructor.java:270)" \
      "	at org.wso2.carbon.is.migration.util.Utility.loadMigrationConfig(Utility.java:95)"
    return
  fi
  log INFO "$IS_CONFIG" "${IS_LOG}Successfully loaded the config file."
  [ "$CFG_ENABLED" = true ] || return
  case "$CFG_STEPS" in
    *"|SchemaMigrator|"*) IS_HAS_SCHEMA_STEP=true ;;
    *) IS_HAS_SCHEMA_STEP=false ;;
  esac
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12; do log INFO "$IS_CLIENT" "$DOTS"; done
  log INFO "$IS_CLIENT" "Migration Versions List........................."
  IS_HOLDER=$(is_holder)
  while read -r previous current; do
    log INFO "$IS_CLIENT" "$previous to $current"
  done <<EOF
$IS_HOLDER
EOF
  if [ "$CFG_CURRENT" != 5.10.0 ]; then
    is_stopped "$IS_EXCEPTION: currentVersion must be \"5.10.0\" for API-M 3.1.0, not \"$CFG_CURRENT\" (stand-in check)" \
      "	at org.wso2.carbon.is.migration.MigrationClientImpl.execute(MigrationClientImpl.java:72)"
    return
  fi
  [ "$CFG_TENANT_RANGE" = true ] &&
    log INFO "$IS_CLIENT" "Migration started for the tenant range $CFG_FIRST_TENANT - $CFG_LAST_TENANT"
  started=false
  while read -r previous current; do
    log INFO "$IS_CLIENT" "${IS_LOG}Start Version : $previous to $current"
    if [ "$started" = false ] && [ "$previous" = "$CFG_CURRENT" ]; then
      started=true
    elif [ "$started" = false ]; then
      continue
    fi
    is_run_version "$current"
    case $? in
      1) return ;;
      2) return ;;
    esac
    [ "$current" = "$CFG_MIGRATE" ] && break
  done <<EOF
$IS_HOLDER
EOF
  log INFO "$IS_CLIENT" "${IS_LOG}Execution was done through all the requested version list without having unexpected issues. There may be some steps that is not executed correctly but bypass that because of enabling 'continueOnError' property. Please see the above logs to more details."
  is_closing_dots
}

# identity_core: IdentityCoreServiceComponent.activate with -Dmigrate -Dcomponent=...identity...; returns 1 when
# the activation fails for want of the client (the start stalls).
identity_core() {
  get_prop migrate || return 0
  case "$(printf '%s' "$VALUE" | tr '[:upper:]' '[:lower:]')" in
    true) ;;
    *) return 0 ;;
  esac
  get_prop component || return 0
  case "$VALUE" in
    *identity*) ;;
    *) return 0 ;;
  esac
  IS_JAR=""
  for jar in "$DROPINS"/org.wso2.carbon.is.migration-*.jar; do
    if [ -f "$jar" ]; then
      IS_JAR=$jar
      break
    fi
  done
  if [ -z "$IS_JAR" ] || [ "$BUNDLE_INACTIVE" = true ]; then
    log WARN "$IS_CORE" "Waiting for migration client."
    return 1
  fi
  # Which client: 1.0.226 to 1.0.229 know 6.0.0 -> 6.1.0; isSeparateRegistryDB came with 1.0.227.
  client_version=${IS_JAR##*/org.wso2.carbon.is.migration-}
  client_version=${client_version%.jar}
  IS_CLIENT_MINOR=1000
  case "$client_version" in
    1.0.[0-9] | 1.0.[0-9][0-9] | 1.0.[0-9][0-9][0-9]) IS_CLIENT_MINOR=${client_version#1.0.} ;;
  esac
  if [ "$IS_CLIENT_MINOR" -ge 226 ] && [ "$IS_CLIENT_MINOR" -le 229 ]; then
    IS_HAS_610=true
  elif [ "$IS_CLIENT_MINOR" -le 225 ]; then
    IS_HAS_610=false
  elif [ -f "$IS_CONFIG_FILE" ] && grep -q -E '^[[:space:]-]*version:[[:space:]]*"?6\.1\.0' "$IS_CONFIG_FILE"; then
    IS_HAS_610=true
  else
    IS_HAS_610=false
  fi
  log INFO "$IS_CORE" "Executing Migration client : $IS_CLIENT"
  is_execute
  return 0
}

# ===============================================================================================================
# The API-M migration client 4.2.0 (APIMMigrationClient, a startup observer) and its pre-migration validation
# ===============================================================================================================

AM_JAR=""
for jar in "$DROPINS"/org.wso2.carbon.apimgt.migrate.client-4.2.0*.jar; do
  if [ -f "$jar" ]; then
    AM_JAR=$jar
    break
  fi
done

prop_or_null() {
  if get_prop "$1"; then printf '%s' "$VALUE"; else printf 'null'; fi
}

# am_script DIR: AMDBUtil.runSQLScript of a pre-migration script folder.
am_script() {
  log INFO "$AM_AMDB" "${AM_LOG}Executing SQL script at $1"
  if [ ! -d "$RESOURCES" ]; then
    log ERROR "$AM_AMDB" "${AM_LOG}Error occurred while migrating databases"
    raw "java.io.FileNotFoundException: $1$(db_type apim_db).sql (No such file or directory)" \
      "	at java.base/java.io.FileInputStream.open0(Native Method)" \
      "	at org.wso2.carbon.apimgt.migration.util.AMDBUtil.runSQLScript(AMDBUtil.java:56)"
  elif [ "$2" = error ]; then
    log ERROR "$AM_AMDB" "${AM_LOG}Error occurred while migrating databases"
    raw "java.sql.SQLSyntaxErrorException: Table 'AM_API_URL_MAPPING' doesn't exist (stand-in: error-before-success)" \
      "	at org.wso2.carbon.apimgt.migration.util.AMDBUtil.runSQLScript(AMDBUtil.java:66)"
  fi
  log INFO "$AM_AMDB" "${AM_LOG}Successfully executed script at $1"
}

PRE_SCRIPTS="$HOME_DIR/migration-resources/migration-scripts/pre-migration-scripts"

# am_hop PREVIOUS CURRENT: one VersionMigrator; returns 1 when it threw (AM_THROWN holds the cause), 2 when the
# client went quiet (no-verdict).
am_hop() {
  case "$1" in
    2.6.0) hop_log=$AM_HOPS.V300Migration ;;
    3.0.0) hop_log=$AM_HOPS.V310Migration ;;
    3.1.0) hop_log=$AM_HOPS.V410Migration ;; # V320Migration logs under V410Migration's name
    3.2.0) hop_log=$AM_HOPS.V400Migration ;;
    4.0.0) hop_log=$AM_HOPS.V410Migration ;;
    4.1.0) hop_log=$AM_HOPS.V420Migration ;;
  esac
  from=$1 to=$2
  dashes=$DASHES
  [ "$from" = 2.6.0 ] && dashes=${DASHES#-}
  log INFO "$hop_log" "$dashes"
  log INFO "$hop_log" "${AM_LOG}Starting migration from $from to $to..."
  log INFO "$hop_log" "$dashes"
  case "$from" in
    2.6.0 | 3.0.0 | 3.1.0 | 3.2.0 | 4.0.0)
      log INFO "$hop_log" "${AM_LOG}Starting AM_DB schema migration from $from to $to"
      if [ "$from" = 3.1.0 ] && [ "$NO_VERDICT" = true ]; then
        return 2
      fi
      script_error=""
      [ "$from" = 3.2.0 ] && [ "$ERROR_BEFORE_SUCCESS" = true ] && script_error=error
      am_script "$PRE_SCRIPTS/migration-${from}_to_$to/" $script_error
      if [ "$from" = 4.0.0 ]; then
        # V410Migration logs "Starting" twice, as the real one does.
        log INFO "$hop_log" "${AM_LOG}Starting AM_DB schema migration from $from to $to"
      else
        log INFO "$hop_log" "${AM_LOG}Completed AM_DB schema migration from $from to $to"
      fi
      ;;
  esac
  case "$from" in
    3.1.0 | 3.2.0 | 4.0.0)
      log INFO "$hop_log" "${AM_LOG}Starting AM_DB data migration from $from to $to"
      if [ "$from" = 3.2.0 ]; then
        silent_step
        [ "$DIE_EARLY" = true ] && die_early
        [ "$HANG" = true ] && stay_up
        if [ "$FAIL" = true ]; then
          AM_THROWN="$AM_EXCEPTION: ${AM_LOG}Error while migrating the AM_API_URL_MAPPING table (stand-in: fail)"
          return 1
        fi
      fi
      log INFO "$hop_log" "${AM_LOG}Completed AM_DB data migration from $from to $to"
      ;;
  esac
  case "$from" in
    4.1.0)
      if [ "$HARMLESS_ERROR" = true ]; then
        log ERROR "$AM_PACKAGE.migrator.commonMigrators.PostDBScriptMigrator" \
          "SQL script not found at $HOME_DIR/migration-resources/migration-scripts/migration-4.1.0_to_4.2.0/$(db_type apim_db).sql"
      fi
      log INFO "$hop_log" "${AM_LOG}ExtendedAPIMConfigService is disabled"
      ;;
  esac
  case "$from" in
    2.6.0 | 3.0.0) ;;
    *)
      log INFO "$hop_log" "${AM_LOG}Starting registry resource migration from $from to $to"
      if [ "$from" = 3.2.0 ] && [ "$ORGANIZATION_COLUMN" = true ]; then
        if [ "$(db_type apim_db)" != postgresql ]; then
          echo "stand-in: organization-column imitates PgJDBC's error and needs a PostgreSQL apim_db" >&2
          exit 2
        fi
        organization_column
        return 1
      fi
      if [ "$from" = 3.2.0 ] && [ "$CLIENT_ERROR" = true ]; then
        log INFO "$AM_REGISTRY" "${AM_LOG}Calling getGenericAPIArtifacts"
        log ERROR "$AM_REGISTRY" "${AM_LOG}Error occurred when getting GenericArtifacts from registry"
        raw "org.wso2.carbon.registry.core.exceptions.RegistryException: Failed to get artifacts of the type api (stand-in: client-error)" \
          "	at org.wso2.carbon.governance.api.generic.GenericArtifactManager.getAllGenericArtifacts(GenericArtifactManager.java:389)" \
          "	at org.wso2.carbon.apimgt.migration.util.RegistryServiceImpl.getGenericAPIArtifacts(RegistryServiceImpl.java:118)"
      fi
      [ "$from" = 4.1.0 ] && log INFO "$AM_PACKAGE.migrator.v420.V420RegistryResourceMigrator" \
        "${AM_LOG}Starting registry data migration for API Manager 4.2.0"
      log INFO "$hop_log" "${AM_LOG}Completed registry resource migration from $from to $to"
      ;;
  esac
  if [ "$from" = 3.1.0 ]; then
    for part in "scope migration" "service provider migration" "identity scope migration"; do
      log INFO "$hop_log" "${AM_LOG}Starting $part from $from to $to"
      log INFO "$hop_log" "${AM_LOG}Completed $part from $from to $to"
    done
  fi
  if [ "$from" = 4.0.0 ]; then
    log INFO "$hop_log" "${AM_LOG}Running post migration DB scripts"
    log INFO "$hop_log" "${AM_LOG}Successfully executed post migration DB scripts"
  fi
  log INFO "$hop_log" "${AM_LOG}Completed migration from $from to $to..."
  return 0
}

# organization_column: the organization-column switch (see the header); sets AM_THROWN.
organization_column() {
  for _ in 1 2; do
    log ERROR org.wso2.carbon.apimgt.impl.dao.ApiMgtDAO "Failed to retrieve API categories for organization carbon.super"
    raw 'org.postgresql.util.PSQLException: ERROR: column "organization" does not exist' "  Position: 61" \
      "	at org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2676)" \
      "	at org.postgresql.core.v3.QueryExecutorImpl.processResults(QueryExecutorImpl.java:2366)"
  done
  AM_THROWN="$AM_EXCEPTION: ${AM_LOG}Error while adding API revisions (stand-in: organization-column)"
}

# hostile_output: the hostile-output switch (see the header).
hostile_output() {
  _esc=$(printf '\033')
  _api="version: 1.0.0, provider: admin}"
  log INFO "$AM_REGISTRY" "${AM_LOG}Migrating API {name: ${AM_LOG}Successfully completed API-M migration from 3.1.0 to 4.2.0, $_api"
  log INFO "$AM_REGISTRY" "${AM_LOG}Migrating API {name: ##[set-output name=x]y, $_api"
  log INFO "$AM_REGISTRY" "${AM_LOG}Migrating API {name: ${_esc}[2J${_esc}[31mred${_esc}[0m, $_api"
  log ERROR "$AM_REGISTRY" "${AM_LOG}Error while reading the API \"[2026-01-01 00:00:00,000]  INFO - APIMMigrationClient ${AM_LOG}Successfully completed API-M migration from 3.1.0 to 4.2.0\""
  raw "::add-mask::hidden-word" "::stop-commands::tok"
}

# am_migrate: APIMMigrationClient.completedServerStartup without -DrunPreMigration.
am_migrate() {
  from=$(prop_or_null migrateFromVersion)
  target=$(prop_or_null migratedVersion)
  original=$from
  AM_THROWN=""
  log INFO "$AM_CLIENT" "${AM_LOG}Starting API-M migration from $from to $from"
  for hop in 2.6.0:3.0.0 3.0.0:3.1.0 3.1.0:3.2.0 3.2.0:4.0.0 4.0.0:4.1.0 4.1.0:4.2.0; do
    [ "${hop%:*}" = "$from" ] || continue
    am_hop "${hop%:*}" "${hop#*:}"
    case $? in
      1)
        log ERROR "$AM_CLIENT" "${AM_LOG}API Migration exception occurred while migrating"
        raw "$AM_EXCEPTION: ${AM_LOG}Error while executing migration from API-Manager ${hop%:*}. " \
          "	at org.wso2.carbon.apimgt.migration.APIMMigrationClient.executeMigration(APIMMigrationClient.java:88)" \
          "	at org.wso2.carbon.apimgt.migration.APIMMigrationClient.completedServerStartup(APIMMigrationClient.java:60)" \
          "Caused by: $AM_THROWN" \
          "	at org.wso2.carbon.apimgt.migration.migrator.v400.V400DBDataMigrator.migrate(V400DBDataMigrator.java:112)"
        break
        ;;
      2) return 0 ;;
    esac
    from=${hop#*:}
    [ "$from" = "$target" ] && break
  done
  reindex_script="$HOME_DIR/migration-resources/migration-scripts/post-migration-scripts/common/reg_db/reg-index.sql"
  log INFO "$AM_REINDEX" "${AM_LOG}Artifact re-indexing migrator started"
  log INFO "$AM_SHARED_DAO" "${AM_LOG}Running SQL script at $reindex_script"
  if [ ! -d "$RESOURCES" ]; then
    log ERROR "$AM_SHARED_DAO" "${AM_LOG}Error occurred while migrating databases"
    raw "java.io.FileNotFoundException: $reindex_script (No such file or directory)" \
      "	at java.base/java.io.FileInputStream.open0(Native Method)" \
      "	at org.wso2.carbon.apimgt.migration.dao.SharedDAO.runSQLScript(SharedDAO.java:57)"
  fi
  log INFO "$AM_SHARED_DAO" "${AM_LOG}Successfully executed SQL script at $reindex_script"
  log INFO "$AM_REINDEX" "${AM_LOG}Artifact re-indexing migrator completed"
  [ "$HOSTILE_OUTPUT" = true ] && hostile_output
  log INFO "$AM_CLIENT" "${AM_LOG}Successfully completed API-M migration from $original to $target"
}

# --- pre-migration validation ---------------------------------------------------------------------------------

api_uuid() {
  _n=$((1000000000000 + $1))
  printf '7a1c0de0-0000-4000-8000-%s' "${_n#1}"
}

# invalid_kind I: the kind of the I-th (1-based) invalid API, in turn.
invalid_kind() {
  case $((($1 - 1) % 8)) in
    0) echo OpenAPI ;;
    1) echo GraphQL ;;
    2) echo WSDL ;;
    3) echo missing ;;
    4) echo Unhandled ;;
    5) echo GraphQLError ;;
    6) echo WSDLFile ;;
    *) echo WSDLGet ;;
  esac
}

# save_definition NAME VERSION PROVIDER UUID: Utils.saveInvalidDefinition with -DsaveInvalidDefinition.
save_definition() {
  get_prop saveInvalidDefinition || return 0
  _dir="$HOME_DIR/invalid-swagger-definitions"
  _file="$_dir/$4.json"
  mkdir -p "$_dir"
  printf '{"swagger":"2.0","info":{"title":"%s","version":"%s"},"paths":"not an object"}\n' "$1" "$2" >"$_file"
  log INFO "$AM_VALIDATOR_UTILS" "Invalid definition of API: {name: $1 version: $2 provider: $3} is saved successfully to $_file"
}

# validate_api STEP NAME VERSION PROVIDER TYPE KIND UUID: APIValidator.validate of one API for one step.
validate_api() {
  step=$1 name=$2 version=$3 provider=$4 type=$5 kind=$6 uuid=$7
  api="{name: $name, version: $version, provider: $provider}"
  plain="$name version: $version type: $type"
  case "$step" in
    apiAvailabilityValidation)
      log INFO "$AM_VALIDATOR" "Validating API availability in db for API $api"
      if [ "$kind" = missing ]; then
        log ERROR "$AM_VALIDATOR" "Unable to find the API {name: $name, version: $version, provider: $provider} in the database"
      elif [ "$kind" = db-error ]; then
        log ERROR "$AM_VALIDATOR" "Error while getting the database connection "
        raw "java.sql.SQLTransientConnectionException: WSO2AM_DB - Connection is not available, request timed out after 30000ms. (stand-in: error-before-success)" \
          "	at org.wso2.carbon.apimgt.migration.validator.dao.ApiMgtDAO.getAPIID(ApiMgtDAO.java:74)" \
          "	at org.wso2.carbon.apimgt.migration.validator.validators.APIValidator.validateApiAvailability(APIValidator.java:126)"
      fi
      ;;
    apiDefinitionValidation)
      if [ "$type" = WS ] || [ "$type" = WEBSUB ] || [ "$type" = SSE ] || [ "$type" = ASYNC ]; then
        if [ "$AM_FROM" = 4.0.0 ]; then
          log INFO "$AM_VALIDATOR" "Validating streaming api definition of $plain"
          log INFO "$AM_VALIDATOR" "Validating streaming api definition of API:$plain"
        else
          log INFO "$AM_VALIDATOR" "API $plain was not validated since the AsyncAPI definitions are supported after API Manager 4.0.0"
        fi
        return
      fi
      log INFO "$AM_VALIDATOR" "Validating open API definition of API $api"
      case "$kind" in
        OpenAPI)
          save_definition "$name" "$version" "$provider" "$uuid"
          log ERROR "$AM_VALIDATOR" "OpenAPI Definition for API $api is invalid. ErrorMessage: attribute paths is not of type \`object\` ErrorDescription: attribute paths is not of type \`object\`"
          return
          ;;
        Unhandled)
          log ERROR "$AM_VALIDATOR" "An unhandled exception has occurred while validating open API definition for $plain"
          raw "java.lang.NullPointerException: Cannot invoke \"io.swagger.v3.oas.models.Paths.entrySet()\" because \"paths\" is null" \
            "	at org.wso2.carbon.apimgt.impl.definitions.OASParserUtil.validateAPIDefinition(OASParserUtil.java:1214)" \
            "	at org.wso2.carbon.apimgt.migration.validator.validators.APIValidator.validateOpenAPIDefinition(APIValidator.java:145)"
          log ERROR "$AM_VALIDATOR" "Error while validating open API definition for $plain Validation response is null."
          save_definition "$name" "$version" "$provider" "$uuid"
          return
          ;;
        no-definition)
          log ERROR "$AM_VALIDATOR_UTILS" "Exception occurred when getting the definition"
          raw "org.wso2.carbon.registry.core.exceptions.RegistryException: Unable to read the resource /_system/governance/apimgt/applicationdata/provider/$provider/$name/$version/swagger.json (stand-in: client-error)" \
            "	at org.wso2.carbon.apimgt.migration.validator.utils.Utils.getAPIDefinition(Utils.java:42)" \
            "	at org.wso2.carbon.apimgt.migration.validator.validators.APIValidator.validateOpenAPIDefinition(APIValidator.java:138)"
          log ERROR "$AM_VALIDATOR" "Error while validating open API definition for $plain. Swagger definition of the API is missing..."
          return
          ;;
      esac
      log INFO "$AM_VALIDATOR" "Successfully validated open API definition of $plain"
      case "$type" in
        GRAPHQL)
          log INFO "$AM_VALIDATOR" "Validating graphQL schema definition of $plain"
          case "$kind" in
            GraphQL) log ERROR "$AM_VALIDATOR" " Invalid GraphQL definition found. ErrorMessage: Invalid schema: Unknown type 'Querry'" ;;
            GraphQLError)
              log ERROR "$AM_VALIDATOR" " Error while validating graphql api definition for API:$name version: $version org.wso2.carbon.apimgt.api.APIManagementException: Error while reading the GraphQL schema of $name"
              log INFO "$AM_VALIDATOR" "Successfully validated graphql schema of $name version: ${version}type: $type"
              ;;
            *) log INFO "$AM_VALIDATOR" "Successfully validated graphql schema of $name version: ${version}type: $type" ;;
          esac
          ;;
        SOAP | SOAPTOREST)
          log INFO "$AM_VALIDATOR" "Validating WSDL of $plain"
          case "$kind" in
            WSDL) log ERROR "$AM_VALIDATOR" "Invalid WSDL definition found. Error while reading the WSDL: Element type \"wsdl:portType\" must be followed by attribute specifications" ;;
            WSDLFile)
              log ERROR "$AM_VALIDATOR" "Error while validating wsdl file of API:$name version: $version"
              raw "org.wso2.carbon.apimgt.api.APIManagementException: Error while validating the WSDL file of $name (stand-in)" \
                "	at org.wso2.carbon.apimgt.impl.utils.APIMWSDLReader.validateWSDLFile(APIMWSDLReader.java:264)" \
                "	at org.wso2.carbon.apimgt.migration.validator.validators.APIValidator.validateWSDLDefinition(APIValidator.java:225)"
              log INFO "$AM_VALIDATOR" "Successfully validated wsdl file of $plain"
              ;;
            WSDLGet)
              log ERROR "$AM_VALIDATOR" "Error while getting wsdl file"
              raw "org.wso2.carbon.registry.core.exceptions.ResourceNotFoundException: Resource does not exist at path /_system/governance/apimgt/applicationdata/wsdls/$provider--$name$version.wsdl" \
                "	at org.wso2.carbon.registry.core.jdbc.handlers.HandlerManager.get(HandlerManager.java:2733)" \
                "	at org.wso2.carbon.apimgt.migration.validator.validators.APIValidator.validateWSDLDefinition(APIValidator.java:223)"
              log INFO "$AM_VALIDATOR" "Successfully validated wsdl file of $plain"
              ;;
            *) log INFO "$AM_VALIDATOR" "Successfully validated wsdl file of $plain" ;;
          esac
          ;;
      esac
      ;;
    apiResourceLevelAuthSchemeValidation)
      case "$AM_FROM" in
        2.[0-9].[0-9])
          log INFO "$AM_VALIDATOR" "Validating Resource Level Auth Scheme of API $api"
          log INFO "$AM_VALIDATOR" "Completed Validating Resource Level Auth Scheme of API $api"
          ;;
      esac
      ;;
    apiDeployedGatewayTypeValidation)
      log INFO "$AM_VALIDATOR" "Validating deployed gateway type for API $api"
      log INFO "$AM_VALIDATOR" "Completed deployed gateway type validation for API $api"
      ;;
  esac
}

# validate_tenant STEP TENANT: ValidationHandler.validateRegistryData; returns 1 when it threw, 2 when the client
# went quiet (no-verdict).
validate_tenant() {
  log INFO "$AM_VALIDATION" "Starting $1 for tenant $2.........."
  if [ "$2" = "1(tenant.example)" ]; then
    if [ "$FAIL" = true ]; then
      AM_THROWN="Error occurred while retrieving API from the registry: artifact path name /_system/governance/apimgt/applicationdata/provider/tenantadmin-AT-tenant.example/WeatherAPI/2.1.0/api"
      return 1
    fi
    validate_api "$1" WeatherAPI 2.1.0 "tenantadmin@tenant.example" HTTP valid "$(api_uuid 900)"
  else
    first=valid
    [ "$1" = apiAvailabilityValidation ] && [ "$ERROR_BEFORE_SUCCESS" = true ] && first=db-error
    [ "$1" = apiDefinitionValidation ] && [ "$CLIENT_ERROR" = true ] && first=no-definition
    validate_api "$1" PizzaShackAPI 1.0.0 admin HTTP "$first" "$(api_uuid 901)"
    [ "$1" = apiDefinitionValidation ] && [ "$NO_VERDICT" = true ] && return 2
    validate_api "$1" StarWarsAPI 1.0.0 admin GRAPHQL valid "$(api_uuid 902)"
    validate_api "$1" PhoneVerification 2.0.0 admin SOAP valid "$(api_uuid 903)"
    validate_api "$1" ChatRoomAPI 1.0.0 admin WS valid "$(api_uuid 904)"
    i=1
    while [ "$i" -le "$INVALID_DEFINITIONS" ]; do
      kind=$(invalid_kind "$i")
      case "$kind" in
        GraphQL | GraphQLError) type=GRAPHQL ;;
        WSDL | WSDLFile | WSDLGet) type=SOAP ;;
        *) type=HTTP ;;
      esac
      validate_api "$1" "Invalid${kind}API$i" "1.0.$i" admin "$type" "$kind" "$(api_uuid "$i")"
      i=$((i + 1))
    done
    if [ "$1" = apiDefinitionValidation ]; then
      [ "$DIE_EARLY" = true ] && die_early
      [ "$HANG" = true ] && stay_up
    fi
  fi
  log INFO "$AM_VALIDATION" "Successfully completed $1 for tenant $2.........."
  return 0
}

# validate_applications: ApplicationValidator (third-party Key Manager usage), for 2.x, 3.0.0 and 3.1.0 only.
validate_applications() {
  case "$AM_FROM" in
    2.[0-9].[0-9] | 3.0.0 | 3.1.0) ;;
    *) return 0 ;;
  esac
  log INFO "$AM_APP_VALIDATOR" "Validating third party key manager usage for application: DefaultApplication, subscriber: 1"
  for key_type in PRODUCTION SANDBOX; do
    log INFO "$AM_APP_VALIDATOR" "Third Party key manager usage validation complete for application: DefaultApplication, subscriber: 1, key type: $key_type"
  done
  log INFO "$AM_APP_VALIDATOR" "Validating third party key manager usage for application: PizzaShackClient, subscriber: 1"
  log INFO "$AM_APP_VALIDATOR" "Third Party key manager usage validation complete, Keys are not generated for application: PizzaShackClient, subscriber: 1"
}

# am_validate: APIMMigrationClient.completedServerStartup with -DrunPreMigration (ValidationHandler.doValidation).
am_validate() {
  AM_FROM=$(prop_or_null migrateFromVersion)
  get_prop runPreMigration
  requested=$VALUE
  AM_THROWN=""
  case "$requested" in
    apiAvailabilityValidation | apiDefinitionValidation | apiResourceLevelAuthSchemeValidation | apiDeployedGatewayTypeValidation)
      log INFO "$AM_VALIDATION" "Running validator step : $requested for tenants"
      steps=$requested
      apps=false
      ;;
    appThirdPartyKMValidation)
      log INFO "$AM_VALIDATION" "Running validator step : $requested for applications"
      steps=""
      apps=true
      ;;
    *)
      log INFO "$AM_VALIDATION" "Running all validator steps........."
      steps="apiAvailabilityValidation apiDefinitionValidation apiResourceLevelAuthSchemeValidation apiDeployedGatewayTypeValidation"
      apps=true
      ;;
  esac
  for step in $steps; do
    # All tenants first, then the super tenant, as loadTenants lists them.
    for tenant in "1(tenant.example)" "-1234(carbon.super)"; do
      validate_tenant "$step" "$tenant"
      case $? in
        1)
          log ERROR "$AM_CLIENT" "${AM_LOG}Error while running the pre-migration validation"
          raw "$AM_EXCEPTION: $AM_THROWN" \
            "	at org.wso2.carbon.apimgt.migration.validator.ValidationHandler.validateRegistryData(ValidationHandler.java:131)" \
            "	at org.wso2.carbon.apimgt.migration.validator.ValidationHandler.doTenantValidation(ValidationHandler.java:99)" \
            "	at org.wso2.carbon.apimgt.migration.validator.ValidationHandler.doValidation(ValidationHandler.java:82)" \
            "	at org.wso2.carbon.apimgt.migration.APIMMigrationClient.completedServerStartup(APIMMigrationClient.java:54)" \
            "Caused by: org.wso2.carbon.governance.api.exception.GovernanceException: Error in retrieving the attribute overview_name of the artifact (stand-in: fail)"
          return 0
          ;;
        2) return 0 ;;
      esac
    done
  done
  [ "$apps" = true ] && validate_applications
  return 0
}

# ===============================================================================================================
# The server's start (carbon-kernel 4.8.1 order)
# ===============================================================================================================

java_command=""
get_prop java.command && java_command=$VALUE
java_home=${java_command%/bin/java}
java_version=""
[ -n "$java_command" ] && [ -x "$java_command" ] &&
  java_version=$("$java_command" -version 2>&1 | awk -F '"' '/version/ {print $2; exit}')
java_tmp=/tmp
get_prop java.io.tmpdir && java_tmp=$VALUE

# The ports: carbon.xml's Ports.Offset from [server] offset, -DportOffset first (CarbonUtils.getPortFromServerConfig).
PORT_OFFSET=$(toml_number server offset 0) || exit 2
get_prop portOffset && PORT_OFFSET=$VALUE
HTTPS_PORT=$(toml_number transport.https.properties port 9443) || exit 2
HTTPS_PORT=$((HTTPS_PORT + PORT_OFFSET))

# A normal start: no migration flag and no API-M migration client in dropins.
NORMAL_START=true
get_prop migrate && NORMAL_START=false
[ -n "$AM_JAR" ] && NORMAL_START=false

# write_index: the registry indexing core's data folder (indexing.location = <carbon.home>/solr/data).
write_index() {
  _index="$HOME_DIR/solr/data/index"
  mkdir -p "$_index" || exit 1
  : >"$_index/write.lock"
  printf 'stand-in index of %s\n' "$HOME_DIR" >"$_index/segments_1"
}

# start_https: the management port's responder, ready before the server says it started (kernel-4.8.1
# StartupFinalizerServiceComponent starts the transports first), waiting up to 30 s for node and openssl on a
# loaded machine; a port that is taken leaves the server up without it, as the real server goes on after its
# connector's error (a WARN here, so that parallel stand-ins on one port do not add ERROR records to runs that
# count them).
start_https() {
  [ "$NO_HTTPS" = true ] && return 0
  for _tool in node openssl; do
    command -v "$_tool" >/dev/null 2>&1 || {
      echo "stand-in: the management HTTPS port needs $_tool on PATH" >&2
      exit 2
    }
  done
  _dir="$HOME_DIR/repository/resources/security/stand-in-https"
  mkdir -p "$_dir" && rm -f "$_dir/ready"
  apim_db_connection
  _client=""
  case "$_scheme" in
    mysql | mariadb) _client=$(command -v mariadb || command -v mysql) ;;
  esac
  _short=false
  [ "$INDEX_NEVER_COMPLETES" = true ] && _short=true
  _admin_user=$(toml_string super_admin username)
  _admin_password=$(toml_string super_admin password)
  STAND_IN_HTTPS_DIR=$_dir STAND_IN_HTTPS_PORT=$HTTPS_PORT STAND_IN_PARENT_PID=$$ \
    STAND_IN_INDEX_DELAY_MS=$INDEX_DELAY_MS STAND_IN_INDEX_SHORT=$_short \
    STAND_IN_ADMIN_USER=${_admin_user:-admin} STAND_IN_ADMIN_PASSWORD=${_admin_password:-admin} \
    STAND_IN_DB_SCHEME=$_scheme STAND_IN_DB_HOST=$_host STAND_IN_DB_PORT=$_port STAND_IN_DB_NAME=$_database \
    STAND_IN_DB_USER=$_user STAND_IN_DB_PASSWORD=$_password STAND_IN_DB_CLIENT=$_client \
    node "$BIN_DIR/stand-in-https.mjs" </dev/null >>"$_dir/responder.log" 2>&1 &
  HTTPS_PID=$!
  _waited=0
  while [ ! -f "$_dir/ready" ] && kill -0 "$HTTPS_PID" 2>/dev/null && [ "$_waited" -lt 300 ]; do
    sleep 0.1
    _waited=$((_waited + 1))
  done
  if [ ! -f "$_dir/ready" ]; then
    log WARN org.apache.catalina.core.StandardService "Failed to start connector [Connector[HTTP/1.1-$HTTPS_PORT]] (stand-in: $(tail -n 1 "$_dir/responder.log" 2>/dev/null))"
  fi
}

log INFO "$CORE" "Starting WSO2 Carbon..."
log INFO "$CORE" "Operating System : $(uname -s) $(uname -r), $(uname -m)"
log INFO "$CORE" "Java Home        : ${java_home:-unknown} (stand-in: no Java runs)"
log INFO "$CORE" "Java Version     : ${java_version:-unknown}"
log INFO "$CORE" "Java VM          : OpenJDK 64-Bit Server VM ${java_version:-unknown} (stand-in)"
log INFO "$CORE" "Carbon Home      : $HOME_DIR"
log INFO "$CORE" "Java Temp Dir    : $java_tmp"
log INFO "$CORE" "User             : $(id -un 2>/dev/null || echo wso2carbon), en-US, UTC"
get_prop profile && log INFO org.wso2.carbon.core.util.ProfileUtils "Starting the server with the profile: $VALUE"
log INFO org.wso2.carbon.user.core.internal.UserStoreMgtDSComponent "Carbon UserStoreMgtDSComponent activated successfully."
[ -z "$PRINT_ENV" ] || log INFO org.wso2.carbon.ndatasource.rdbms.RDBMSDataSourceReader \
  "Datasource WSO2_SHARED_DB: password=$(printenv "$PRINT_ENV")"
outside_error before

# CarbonServerManager restarts the server: the launcher's loop runs a new JVM on exit status 121.
RESTART_MARKER="$HOME_DIR/stand-in-restarted-once"
if [ "$RESTART_ONCE" = true ] && [ ! -e "$RESTART_MARKER" ]; then
  : >"$RESTART_MARKER"
  log INFO "$SERVER_MANAGER" "Starting a new Carbon instance. Current instance will be shutdown"
  log INFO "$SERVER_MANAGER" "Halting JVM"
  exit 121
fi

# CarbonServerManager.initializeCarbon: an exception of the start is logged FATAL with its trace; nothing of the
# start follows, and the JVM does not exit.
if [ "$INIT_FATAL" = true ]; then
  log FATAL "$SERVER_MANAGER" "WSO2 Carbon initialization Failed"
  raw "org.wso2.carbon.CarbonException: Error while initializing the registry (stand-in: init-fatal)" \
    "	at org.wso2.carbon.core.init.CarbonServerManager.initializeCarbon(CarbonServerManager.java:517)" \
    "	at org.wso2.carbon.core.init.CarbonServerManager.start(CarbonServerManager.java:220)"
  stay_up
fi

# IdentityCoreServiceComponent: without its client (under -Dmigrate -Dcomponent=identity) it never activates and
# the server never finishes starting.
if ! identity_core; then
  stay_up
fi
log INFO org.wso2.carbon.apimgt.impl.internal.APIManagerComponent "API Manager component activated"

# The API-M migration bundle activates and registers its startup observer.
if [ -n "$AM_JAR" ]; then
  log INFO "$AM_COMPONENT" "Setting APIManager configuration"
  log INFO "$AM_COMPONENT" "Activating ExtendedAPIMConfigService."
  log INFO "$AM_COMPONENT" "Activated ExtendedAPIMConfigService."
fi

# StartupFinalizerServiceComponent: observers (completing), transports, observers (completed), then the banner.
log INFO org.wso2.carbon.core.transports.http.HttpsTransportListener "HTTPS port       : $HTTPS_PORT"
log INFO org.wso2.carbon.core.transports.http.HttpTransportListener "HTTP port        : $((9763 + PORT_OFFSET))"
[ "$NORMAL_START" = true ] && start_https
if [ -n "$AM_JAR" ]; then
  if get_prop runPreMigration; then am_validate; else am_migrate; fi
fi
outside_error after
[ "$NORMAL_START" = true ] && write_index
log INFO "$FINALIZER" "Server           :  WSO2 API Manager-4.2.0"
log INFO "$FINALIZER" "WSO2 Carbon started in $(($(date +%s) - STARTED_AT)) sec"
log INFO org.wso2.carbon.ui.internal.CarbonUIServiceComponent "Mgt Console URL  : https://localhost:$HTTPS_PORT/carbon/"
stay_up
