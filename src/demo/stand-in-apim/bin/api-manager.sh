#!/bin/sh
# ---------------------------------------------------------------------------------------------------------------
# A STAND-IN for WSO2 API Manager 4.2.0's bin/api-manager.sh, for apim-migrate's tests and demo. A simulation:
# no Java, no database. It takes the same arguments as the real launcher, prints the log lines the real server
# and its migration clients print (to stdout and to repository/logs/wso2carbon.log), writes wso2carbon.pid and,
# like the real server after a migration, stays up until it is stopped.
#
#   api-manager.sh [-Dkey[=value] ...]        run in the foreground (a bare -Dkey means true)
#   api-manager.sh --start [-Dkey ...]        run in the background
#   api-manager.sh --stop                     SIGTERM to the pid in <HOME>/wso2carbon.pid
#   api-manager.sh --restart [-Dkey ...]      stop, wait, start in the background
#   api-manager.sh --version
#
# Behaviour switches, one per line in <HOME>/stand-in.conf (so that tests need no environment):
#   fail                    the migration client fails
#   error-before-success    a migration-client ERROR, then still the success line (as the real client does)
#   harmless-error          the "SQL script not found at .../migration-4.1.0_to_4.2.0" ERROR (API-M run)
#   hang                    the client never prints its success line; the server never finishes starting
#   die-early               exit 1 before the success line
#   invalid-definitions=N   N invalid API definitions in the pre-migration validation
#   slow-ms=N               N ms between log lines
#   ignore-term             SIGTERM does not stop the server (a forced kill is needed)
#   print-env=NAME          logs the value of the environment variable NAME in a datasource line, as a server
#                           that logs a password would (the variables come from deployment.toml's $env{})
# Every invocation appends its arguments, tab-separated, as one line of <HOME>/stand-in-args.log.
# ---------------------------------------------------------------------------------------------------------------

# Dates in English and decimal points in the sleep times, whatever the caller's locale.
LC_ALL=C
export LC_ALL

# Like the JVM, which ignores SIGPIPE: a server whose console reader went away (a killed apim-migrate) keeps
# running, its console lines lost, until it is stopped.
trap '' PIPE

# The home, from where this script lies, as the real launcher finds CARBON_HOME.
PRG="$0"
while [ -h "$PRG" ]; do
  link=$(ls -ld "$PRG" | sed 's/.*-> //')
  case "$link" in
    /*) PRG="$link" ;;
    *) PRG=$(dirname "$PRG")/"$link" ;;
  esac
done
CARBON_HOME=$(cd "$(dirname "$PRG")/.." && pwd)
SCRIPT="$CARBON_HOME/bin/$(basename "$PRG")"
PID_FILE="$CARBON_HOME/wso2carbon.pid"
LOG_DIR="$CARBON_HOME/repository/logs"
LOG_FILE="$LOG_DIR/wso2carbon.log"
CONF_FILE="$CARBON_HOME/stand-in.conf"
ARGS_FILE="$CARBON_HOME/stand-in-args.log"
DROPINS="$CARBON_HOME/repository/components/dropins"
RESOURCES="$CARBON_HOME/migration-resources"

# --- the arguments --------------------------------------------------------------------------------------------

recorded="" sep=""
for arg in "$@"; do
  recorded="$recorded$sep$arg"
  sep="$(printf '\t')"
done
printf '%s\n' "$recorded" >>"$ARGS_FILE"

CMD=run
PROPS=""
NL='
'
for arg in "$@"; do
  case "$arg" in
    --start | start) CMD=start ;;
    --stop | stop) CMD=stop ;;
    --restart | restart) CMD=restart ;;
    --version | version) CMD=version ;;
    -D*=*) PROPS="$PROPS${arg#-D}$NL" ;;
    -D*) PROPS="$PROPS${arg#-D}=true$NL" ;;
    *) ;;
  esac
done

# prop KEY: prints the value of -DKEY (the last one wins); fails when it was not given.
prop() {
  printf '%s' "$PROPS" | awk -v key="$1" '
    { at = index($0, "="); if (substr($0, 1, at - 1) == key) { value = substr($0, at + 1); found = 1 } }
    END { if (found) { print value; exit 0 } exit 1 }'
}

# The arguments without --start/--restart, for the background run.
without_control() {
  for arg do
    shift
    case "$arg" in
      --start | start | --restart | restart) ;;
      *) set -- "$@" "$arg" ;;
    esac
  done
  nohup sh "$SCRIPT" "$@" >/dev/null 2>&1 &
}

pid_running() {
  [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

case "$CMD" in
  version)
    if [ -f "$CARBON_HOME/bin/version.txt" ]; then cat "$CARBON_HOME/bin/version.txt"; else echo "WSO2 API Manager v4.2.0"; fi
    exit 0
    ;;
  stop)
    if [ ! -f "$PID_FILE" ]; then
      echo "cat: $PID_FILE: No such file or directory" >&2
      exit 0
    fi
    kill -TERM "$(cat "$PID_FILE")"
    exit 0
    ;;
  start)
    if pid_running; then
      echo "Process is already running"
      exit 0
    fi
    without_control "$@"
    exit 0
    ;;
  restart)
    if [ -f "$PID_FILE" ]; then
      kill -TERM "$(cat "$PID_FILE")" 2>/dev/null
      while pid_running; do sleep 1; done
    fi
    without_control "$@"
    exit 0
    ;;
esac

# --- the behaviour switches -----------------------------------------------------------------------------------

FAIL=false
ERROR_BEFORE_SUCCESS=false
HARMLESS_ERROR=false
HANG=false
DIE_EARLY=false
INVALID_DEFINITIONS=0
SLOW_MS=0
IGNORE_TERM=false
PRINT_ENV=""

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
      hang) HANG=true ;;
      die-early) DIE_EARLY=true ;;
      ignore-term) IGNORE_TERM=true ;;
      print-env=*) PRINT_ENV=${line#*=} ;;
      invalid-definitions=*)
        INVALID_DEFINITIONS=${line#*=}
        number_or_die invalid-definitions "$INVALID_DEFINITIONS"
        ;;
      slow-ms=*)
        SLOW_MS=${line#*=}
        number_or_die slow-ms "$SLOW_MS"
        ;;
      *)
        echo "stand-in: unknown switch '$line' in $CONF_FILE" >&2
        exit 2
        ;;
    esac
  done <"$CONF_FILE"
fi
SLOW_SECONDS=$(awk -v ms="$SLOW_MS" 'BEGIN { printf "%.3f", ms / 1000 }')

# --- output ---------------------------------------------------------------------------------------------------

mkdir -p "$LOG_DIR"
STARTED_AT=$(date +%s)
MILLIS=0
SLEEP_PID=""

# pause: waits slow-ms; a trapped signal ends the wait at once.
pause() {
  [ "$SLOW_MS" -gt 0 ] || return 0
  sleep "$SLOW_SECONDS" >/dev/null 2>&1 &
  SLEEP_PID=$!
  wait "$SLEEP_PID" 2>/dev/null
  SLEEP_PID=""
}

# raw TEXT: an unformatted line (a stack trace line), to the console and the log file.
raw() {
  printf '%s\n' "$1"
  printf '%s\n' "$1" >>"$LOG_FILE"
}

# log LEVEL LOGGER MESSAGE: a line in the layout of WSO2's log4j2 pattern "[%d] %5p {%c} - %m%ex%n".
log() {
  MILLIS=$(((MILLIS + 137) % 1000))
  entry=$(printf '[%s,%03d] %5s {%s} - %s' "$(date '+%Y-%m-%d %H:%M:%S')" "$MILLIS" "$1" "$2" "$3")
  raw "$entry"
  pause
}

CORE=org.wso2.carbon.core.internal.CarbonCoreActivator
FINALIZER=org.wso2.carbon.core.internal.StartupFinalizerServiceComponent
SERVER_MANAGER=org.wso2.carbon.core.init.CarbonServerManager
IS_CORE=org.wso2.carbon.identity.core.internal.IdentityCoreServiceComponent
IS_CLIENT=org.wso2.carbon.is.migration.MigrationClientImpl
IS_VERSION=org.wso2.carbon.is.migration.VersionMigration
AM_CLIENT=org.wso2.carbon.apimgt.migration.APIMMigrationClient
AM_VALIDATION=org.wso2.carbon.apimgt.migration.validator.ValidationHandler
AM_VALIDATOR=org.wso2.carbon.apimgt.migration.validator.validators.APIValidator
IS_LOG="WSO2 Product Migration Service Task : "
AM_LOG="WSO2 API-M Migration Task : "
DOTS=............................................................................................

# --- shutdown -------------------------------------------------------------------------------------------------

on_term() {
  if [ "$IGNORE_TERM" = true ]; then
    log WARN "$SERVER_MANAGER" "Shutdown hook triggered, but the server is busy and keeps running (stand-in: ignore-term)"
    return
  fi
  [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null
  SLOW_MS=0
  log INFO "$SERVER_MANAGER" "Shutdown hook triggered...."
  log INFO "$SERVER_MANAGER" "Gracefully shutting down WSO2 API Manager..."
  log INFO org.wso2.carbon.core.ServerManagement "Starting to switch to maintenance mode..."
  log INFO org.wso2.carbon.core.ServerManagement "Stopped all transport listeners"
  log INFO "$SERVER_MANAGER" "Shutting down OSGi framework..."
  log INFO "$SERVER_MANAGER" "Shutdown complete"
  log INFO "$SERVER_MANAGER" "Halting JVM"
  rm -f "$PID_FILE"
  exit 143
}
trap on_term TERM INT

# stay_up: the server keeps running until it is stopped.
stay_up() {
  while :; do
    sleep 1 >/dev/null 2>&1 &
    SLEEP_PID=$!
    wait "$SLEEP_PID" 2>/dev/null
    SLEEP_PID=""
  done
}

# die_early: the JVM crashes.
die_early() {
  raw "#"
  raw "# A fatal error has been detected by the Java Runtime Environment (stand-in: die-early)"
  raw "#"
  exit 1
}

# --- startup --------------------------------------------------------------------------------------------------

printf '%s\n' "$$" >"$PID_FILE"

start_banner() {
  log INFO "$CORE" "Starting WSO2 Carbon..."
  log INFO "$CORE" "Operating System : $(uname -s) $(uname -r), $(uname -m)"
  log INFO "$CORE" "Java Home        : /usr/lib/jvm/stand-in (a simulation: no Java runs)"
  log INFO "$CORE" "Java Version     : 11.0.22"
  log INFO "$CORE" "Java VM          : OpenJDK 64-Bit Server VM 11.0.22+7,Eclipse Adoptium"
  log INFO "$CORE" "Carbon Home      : $CARBON_HOME"
  log INFO "$CORE" "Java Temp Dir    : $CARBON_HOME/tmp"
  log INFO "$CORE" "User             : $(id -un 2>/dev/null || echo wso2), en-US, UTC"
  profile=$(prop profile) && log INFO org.wso2.carbon.core.util.ProfileUtils "Starting the server with the profile: $profile"
  log INFO org.wso2.carbon.user.core.internal.UserStoreMgtDSComponent "Carbon UserStoreMgtDSComponent activated successfully."
  [ -z "$PRINT_ENV" ] || log INFO org.wso2.carbon.ndatasource.rdbms.RDBMSDataSourceReader \
    "Datasource WSO2_SHARED_DB: password=$(printenv "$PRINT_ENV")"
}

finish_startup() {
  log INFO org.wso2.carbon.core.transports.http.HttpsTransportListener "HTTPS port       : 9443"
  log INFO org.wso2.carbon.core.transports.http.HttpTransportListener "HTTP port        : 9763"
  log INFO "$FINALIZER" "Server           :  WSO2 API Manager-4.2.0"
  log INFO "$FINALIZER" "WSO2 Carbon started in $(($(date +%s) - STARTED_AT + 1)) sec"
  log INFO org.wso2.carbon.ui.internal.CarbonUIServiceComponent "Mgt Console URL  : https://localhost:9443/carbon/"
}

# --- identity migration (-Dmigrate -Dcomponent=identity) ------------------------------------------------------

CONFIG="$RESOURCES/migration-config.yaml"

# identity_kit_problem: prints what is wrong with the identity kit or its migration-config.yaml, if anything.
identity_kit_problem() {
  if [ ! -d "$RESOURCES" ]; then
    echo "org.wso2.carbon.identity.core.migrate.MigrationClientException: $RESOURCES not found"
    return
  fi
  if [ ! -f "$CONFIG" ]; then
    echo "org.wso2.carbon.identity.core.migrate.MigrationClientException: Error while reading the migration config file $CONFIG"
    return
  fi
  # SnakeYAML loads the file into a fixed class: an unknown top-level key is fatal.
  unknown=$(grep -E '^[A-Za-z_][A-Za-z0-9_]*:' "$CONFIG" | sed 's/:.*//' |
    grep -v -x -E 'migrationEnable|currentVersion|migrateVersion|continueOnError|batchUpdate|ignoreForInactiveTenants|isSeparateRegistryDB|migrateTenantRange|migrationStartingTenantID|migrationEndingTenantID|versions' |
    head -n 1)
  if [ -n "$unknown" ]; then
    echo "Cannot create property=$unknown for JavaBean=org.wso2.carbon.is.migration.config.Config: Unable to find property '$unknown'"
    return
  fi
  if ! grep -q -E '^currentVersion:[[:space:]]*"5\.10\.0"' "$CONFIG"; then
    echo "org.wso2.carbon.identity.core.migrate.MigrationClientException: currentVersion must be \"5.10.0\" for API-M 3.1.0 (stand-in check)"
    return
  fi
  if ! grep -q -E '^migrateVersion:[[:space:]]*"6\.[01]\.0"' "$CONFIG"; then
    echo "org.wso2.carbon.identity.core.migrate.MigrationClientException: migrateVersion must be \"6.0.0\" or \"6.1.0\" (stand-in check)"
    return
  fi
  for migrator in EncryptionAdminFlowMigrator EncryptionUserFlowMigrator SCIMGroupRoleMigrator; do
    if grep -v -E '^[[:space:]]*#' "$CONFIG" | grep -q -E "name:[[:space:]]*\"$migrator\""; then
      echo "org.wso2.carbon.identity.core.migrate.MigrationClientException: $migrator must be removed for API-M (stand-in check)"
      return
    fi
  done
  if awk '
    /^[[:space:]]*#/ { next }
    /^[[:space:]-]*version:/ { version = $0; sub(/^[^"]*"/, "", version); sub(/".*/, "", version) }
    /^[[:space:]-]*name:/ { name = $0; location = ""; schema = "" }
    /^[[:space:]]*location:[[:space:]]*"step3"/ { location = "step3" }
    /^[[:space:]]*schema:[[:space:]]*"consent"/ { schema = "consent" }
    version == "6.0.0" && name ~ /"SchemaMigrator"/ && location == "step3" && schema == "consent" { found = 1 }
    END { exit found ? 0 : 1 }' "$CONFIG"; then
    echo "org.wso2.carbon.identity.core.migrate.MigrationClientException: the step3 consent SchemaMigrator of 6.0.0 must be removed for API-M (stand-in check)"
    return
  fi
}

# identity_steps: "version<TAB>name<TAB>order" of every migrator after currentVersion up to migrateVersion.
identity_steps() {
  awk '
    function num(v,   parts) { sub(/-.*/, "", v); split(v, parts, "."); return parts[1] * 1000000 + parts[2] * 1000 + parts[3] }
    function quoted(line) { sub(/^[^"]*"/, "", line); sub(/".*/, "", line); return line }
    /^[[:space:]]*#/ { next }
    /^currentVersion:/ { from = num(quoted($0)) }
    /^migrateVersion:/ { to = num(quoted($0)) }
    /^[[:space:]-]*version:/ { version = quoted($0); next }
    /^[[:space:]-]*name:/ { name = quoted($0); next }
    /^[[:space:]]*order:/ {
      order = $0; sub(/.*order:[[:space:]]*/, "", order); gsub(/[^0-9]/, "", order)
      if (num(version) > from && num(version) <= to) printf "%s\t%s\t%s\n", version, name, order
    }' "$CONFIG"
}

run_identity_migration() {
  jar=$(ls "$DROPINS"/org.wso2.carbon.is.migration-*.jar 2>/dev/null | head -n 1)
  if [ -z "$jar" ]; then
    log WARN "$IS_CORE" "Waiting for migration client."
    log ERROR "$IS_CLIENT" "Migration process was stopped."
    raw "org.wso2.carbon.identity.core.migrate.MigrationClientException: Migration client not found"
    return
  fi
  log INFO "$IS_CORE" "Executing Migration client : $IS_CLIENT"
  log INFO "$IS_CLIENT" "$DOTS"
  log INFO "$IS_CLIENT" "$DOTS"
  problem=$(identity_kit_problem)
  if [ -n "$problem" ]; then
    log ERROR "$IS_CLIENT" "Migration process was stopped."
    raw "$problem"
    raw "	at org.wso2.carbon.is.migration.config.Config.getInstance(Config.java:87)"
    return
  fi
  log INFO "$IS_CLIENT" "Migration Versions List........................."
  previous=5.10.0
  count=0
  tab=$(printf '\t')
  # A here-document keeps the loop in this shell, so that exit, return and stay_up act on the server itself.
  while IFS="$tab" read -r version name order; do
    [ -n "$version" ] || continue
    if [ "$version" != "$previous" ]; then
      log INFO "$IS_CLIENT" "${IS_LOG}Start Version : $previous to $version"
      previous=$version
    fi
    log INFO "$IS_VERSION" "${IS_LOG}Version : $version, Migration Step : $name of order : $order is starting........................... "
    count=$((count + 1))
    [ "$count" = 2 ] || continue
    [ "$DIE_EARLY" = true ] && die_early
    [ "$HANG" = true ] && stay_up
    if [ "$FAIL" = true ]; then
      log ERROR "$IS_CLIENT" "Migration process was stopped."
      raw "org.wso2.carbon.identity.core.migrate.MigrationClientException: Error while executing the migration step $name of order $order (stand-in: fail)"
      raw "	at org.wso2.carbon.is.migration.VersionMigration.migrate(VersionMigration.java:45)"
      return
    fi
    if [ "$ERROR_BEFORE_SUCCESS" = true ]; then
      log ERROR org.wso2.carbon.is.migration.service.SchemaMigrator "${IS_LOG}Error while executing the migration script of $name (stand-in: error-before-success)"
    fi
  done <<EOF
$(identity_steps)
EOF
  log INFO "$IS_CLIENT" "${IS_LOG}Execution was done through all the requested version list without having unexpected issues. There may be some steps that is not executed correctly but bypass that because of enabling 'continueOnError' property. Please see the above logs to more details."
  log INFO "$IS_CLIENT" "$DOTS"
  log INFO "$IS_CLIENT" "$DOTS"
}

# --- API-M pre-migration validation (-DrunPreMigration) -------------------------------------------------------

# invalid_kind I: the kind of the I-th (1-based) invalid definition, in turn.
invalid_kind() {
  case $((($1 - 1) % 5)) in
    0) echo OpenAPI ;;
    1) echo GraphQL ;;
    2) echo WSDL ;;
    3) echo AsyncAPI ;;
    *) echo missing ;;
  esac
}

api_uuid() {
  printf '7a1c0de0-0000-4000-8000-%012d' "$1"
}

validate_api() { # STEP NAME VERSION PROVIDER TYPE KIND(valid|OpenAPI|...) INDEX
  step=$1 name=$2 version=$3 provider=$4 type=$5 kind=$6 index=$7
  api="{name: $name, version: $version, provider: $provider}"
  case "$step" in
    apiAvailabilityValidation)
      log INFO "$AM_VALIDATOR" "Validating API availability in db for API $api"
      [ "$kind" = missing ] && log ERROR "$AM_VALIDATOR" "Unable to find the API $api in the database"
      ;;
    apiDefinitionValidation)
      if [ "$kind" = AsyncAPI ]; then
        log INFO "$AM_VALIDATOR" "Validating streaming api definition of $name version: $version type: $type"
        log ERROR "$AM_VALIDATOR" " Invalid AsyncAPI definition found. [ErrorItem{errorCode=900754, errorMessage='The AsyncAPI definition is invalid: channels is missing'}]"
        log INFO "$AM_VALIDATOR" "Validating streaming api definition of API:$name version: $version type: $type"
        return
      fi
      log INFO "$AM_VALIDATOR" "Validating open API definition of API $api"
      if [ "$kind" = OpenAPI ]; then
        if prop saveInvalidDefinition >/dev/null; then
          mkdir -p "$CARBON_HOME/invalid-swagger-definitions"
          printf '{"swagger":"2.0","info":{"title":"%s","version":"%s"},"paths":"not an object"}\n' "$name" "$version" \
            >"$CARBON_HOME/invalid-swagger-definitions/$(api_uuid "$index").json"
        fi
        log ERROR "$AM_VALIDATOR" "OpenAPI Definition for API $api is invalid. ErrorMessage: attribute paths is not of type \`object\` ErrorDescription: attribute paths is not of type \`object\`"
        return
      fi
      log INFO "$AM_VALIDATOR" "Successfully validated open API definition of $name version: $version type: $type"
      case "$kind" in
        GraphQL)
          log INFO "$AM_VALIDATOR" "Validating graphQL schema definition of $name version: $version type: $type"
          log ERROR "$AM_VALIDATOR" " Invalid GraphQL definition found. ErrorMessage: Invalid schema: Unknown type 'Querry'"
          ;;
        WSDL)
          log INFO "$AM_VALIDATOR" "Validating WSDL of $name version: $version type: $type"
          log ERROR "$AM_VALIDATOR" "Invalid WSDL definition found. Error while reading the WSDL: Element type \"wsdl:portType\" must be followed by attribute specifications"
          ;;
      esac
      ;;
    apiDeployedGatewayTypeValidation)
      log INFO "$AM_VALIDATOR" "Validating deployed gateway type for API $api"
      log INFO "$AM_VALIDATOR" "Completed deployed gateway type validation for API $api"
      ;;
    *) ;;
  esac
}

run_validation() {
  only=$(prop runPreMigration)
  case "$only" in
    true | '') steps="apiAvailabilityValidation apiDefinitionValidation apiResourceLevelAuthSchemeValidation apiDeployedGatewayTypeValidation"
      log INFO "$AM_VALIDATION" "Running all validator steps........." ;;
    *) steps=$only
      log INFO "$AM_VALIDATION" "Running validator step : $only for tenants" ;;
  esac
  if [ "$FAIL" = true ]; then
    log ERROR "$AM_CLIENT" "${AM_LOG}Error while running the pre-migration validation"
    raw "org.wso2.carbon.apimgt.migration.APIMigrationException: Error occurred while accessing the registry  (stand-in: fail)"
    raw "	at org.wso2.carbon.apimgt.migration.validator.ValidationHandler.validateRegistryData(ValidationHandler.java:151)"
    return
  fi
  for step in $steps; do
    for tenant in "-1234(carbon.super)" "1(tenant.example)"; do
      log INFO "$AM_VALIDATION" "Starting $step for tenant $tenant.........."
      if [ "$tenant" = "-1234(carbon.super)" ]; then
        validate_api "$step" PizzaShackAPI 1.0.0 admin HTTP valid 0
        validate_api "$step" StarWarsAPI 1.0.0 admin GRAPHQL valid 0
        i=1
        while [ "$i" -le "$INVALID_DEFINITIONS" ]; do
          kind=$(invalid_kind "$i")
          case "$kind" in GraphQL) type=GRAPHQL ;; WSDL) type=SOAP ;; AsyncAPI) type=WS ;; *) type=HTTP ;; esac
          validate_api "$step" "Invalid${kind}API$i" "1.0.$i" admin "$type" "$kind" "$i"
          i=$((i + 1))
        done
        if [ "$step" = apiDefinitionValidation ]; then
          [ "$ERROR_BEFORE_SUCCESS" = true ] && log ERROR "$AM_VALIDATOR" "Error while getting the database connection  (stand-in: error-before-success)"
          [ "$DIE_EARLY" = true ] && die_early
          [ "$HANG" = true ] && stay_up
        fi
      else
        validate_api "$step" WeatherAPI 2.1.0 "tenantadmin@tenant.example" HTTP valid 0
      fi
      log INFO "$AM_VALIDATION" "Successfully completed $step for tenant $tenant.........."
    done
  done
}

# --- API-M migration ------------------------------------------------------------------------------------------

run_apim_migration() {
  if ! ls "$DROPINS"/org.wso2.carbon.apimgt.migrate.client-4.2.0*.jar >/dev/null 2>&1; then
    # Without the client jar nothing migrates: the server just starts, as the real one does.
    return
  fi
  if prop runPreMigration >/dev/null; then
    run_validation
    return
  fi
  from=$(prop migrateFromVersion) || from=""
  to=$(prop migratedVersion) || to=""
  log INFO "$AM_CLIENT" "${AM_LOG}Starting API-M migration from $from to $to"
  broken=""
  if [ ! -d "$RESOURCES" ]; then
    broken="org.wso2.carbon.apimgt.migration.APIMigrationException: $RESOURCES/migration-scripts not found"
  elif [ "$from" != 3.1.0 ] || [ "$to" != 4.2.0 ]; then
    broken="org.wso2.carbon.apimgt.migration.APIMigrationException: WSO2 API-M Migration Task : Error while executing migration from API-Manager $from. (stand-in: only 3.1.0 to 4.2.0)"
  fi
  if [ -z "$broken" ]; then
    for hop in 3.1.0:3.2.0:320 3.2.0:4.0.0:400 4.0.0:4.1.0:410 4.1.0:4.2.0:420; do
      a=${hop%%:*} rest=${hop#*:}
      b=${rest%%:*} tag=${rest#*:}
      hop_logger=org.wso2.carbon.apimgt.migration.migrator.v$tag.V${tag}Migration
      log INFO "$hop_logger" "${AM_LOG}Starting migration from $a to $b..."
      log INFO "$hop_logger" "${AM_LOG}Migrating the registry artifacts of tenant -1234(carbon.super)"
      if [ "$b" = 4.0.0 ]; then
        [ "$DIE_EARLY" = true ] && die_early
        [ "$HANG" = true ] && stay_up
        if [ "$FAIL" = true ]; then
          broken="org.wso2.carbon.apimgt.migration.APIMigrationException: WSO2 API-M Migration Task : Error while executing migration from API-Manager $a.  (stand-in: fail)"
          break
        fi
        [ "$ERROR_BEFORE_SUCCESS" = true ] &&
          log ERROR org.wso2.carbon.apimgt.migration.migrator.v400.V400DBDataMigrator "${AM_LOG}Error while migrating the AM_API_URL_MAPPING table (stand-in: error-before-success)"
      fi
      if [ "$b" = 4.2.0 ] && [ "$HARMLESS_ERROR" = true ]; then
        log ERROR org.wso2.carbon.apimgt.migration.migrator.commonMigrators.PostDBScriptMigrator \
          "SQL script not found at $RESOURCES/migration-scripts/migration-4.1.0_to_4.2.0/h2.sql"
      fi
      log INFO "$hop_logger" "${AM_LOG}Completed migration from $a to $b..."
    done
  fi
  if [ -n "$broken" ]; then
    log ERROR "$AM_CLIENT" "${AM_LOG}API Migration exception occurred while migrating"
    raw "$broken"
    raw "	at org.wso2.carbon.apimgt.migration.APIMMigrationClient.executeMigration(APIMMigrationClient.java:88)"
  fi
  log INFO org.wso2.carbon.apimgt.migration.migrator.commonMigrators.ArtifactReIndexingMigrator "${AM_LOG}Running the artifact re-indexing script"
  log INFO "$AM_CLIENT" "${AM_LOG}Successfully completed API-M migration from $from to $to"
}

# --- the run --------------------------------------------------------------------------------------------------

start_banner
if prop migrate >/dev/null && [ "$(prop migrate)" = true ]; then
  component=$(prop component) || component=""
  case "$component" in
    *identity*) run_identity_migration ;;
  esac
fi
log INFO org.wso2.carbon.apimgt.impl.internal.APIManagerComponent "API Manager component activated"
if prop migrate >/dev/null && [ "$(prop migrate)" = true ] && prop migrateFromVersion >/dev/null; then
  run_apim_migration
fi
finish_startup
stay_up
