#!/bin/sh
# ---------------------------------------------------------------------------------------------------------------
# A STAND-IN for WSO2 API Manager 4.2.0's bin/api-manager.sh, for apim-migrate's tests and demo. No Java runs.
#
# This launcher behaves like the real one in everything apim-migrate relies on:
#   - CARBON_HOME: one inherited from the environment is kept; otherwise the folder above this script (links
#     resolved);
#   - JAVACMD / JAVA_HOME are checked first, with the real messages and exit 1, before any argument is looked at
#     (so --stop and --version also fail without a Java);
#   - --start / --stop / --restart / --version / --test (also -start, start, ...) are read from the word-split
#     arguments, as the real `for c in $*` loop reads them; --stop is a SIGTERM to the pid in
#     <CARBON_HOME>/wso2carbon.pid, exit 0 whatever kill says;
#   - the JDK version probe ("$JAVACMD" -version, a warning outside 11 to 17), the JAVA_HOME / CARBON_HOME lines,
#     `cd "$CARBON_HOME"`, <CARBON_HOME>/tmp emptied, "Using Java memory options: ...";
#   - the "JVM" runs as a CHILD of this script, started again while it exits with 121, with -Dcarbon.home and the
#     word-split arguments after org.wso2.carbon.bootstrap.Bootstrap. The launcher itself then ends with 0,
#     whatever the JVM's status was, as the real one does.
# Written from what product-apim v4.2.0's startup-scripts/api-manager.sh does (docs/wso2-compatibility.md); the
# parts apim-migrate does not rely on (--debug, --optimize, the class paths, most JVM options) are left out.
#
# The "JVM" is bin/stand-in-jvm.sh (run with sh): it writes wso2carbon.pid, turns the -D arguments into
# properties, reads the behaviour switches from <CARBON_HOME>/stand-in.conf and prints the server's log; its
# header lists the switches.
#
# Test hook, not in the real launcher: every invocation appends its arguments, tab-separated, as one line to
# <CARBON_HOME>/stand-in-args.log (CARBON_HOME as this script decided it).
# ---------------------------------------------------------------------------------------------------------------

# Like the JVM, which ignores SIGPIPE: a launcher whose console reader went away keeps going.
trap '' PIPE

# macOS fills in a JAVA_HOME when there is none, as the real launcher does.
case "`uname`" in
  Darwin*)
    if [ -z "$JAVA_VERSION" ]; then
      JAVA_VERSION="CurrentJDK"
    else
      echo "Using Java version: $JAVA_VERSION"
    fi
    if [ -z "$JAVA_HOME" ]; then
      JAVA_HOME=/System/Library/Frameworks/JavaVM.framework/Versions/${JAVA_VERSION}/Home
    fi
    ;;
esac

# ----- where this script really lies: $0 may be a symbolic link (or a chain of them) -----------------------------
script="$0"
while [ -h "$script" ]; do
  listing=`ls -ld "$script"`
  target=`expr "$listing" : '.*-> \(.*\)$'`
  if expr "$target" : '.*/.*' >/dev/null; then
    script="$target"
  else
    script=`dirname "$script"`/"$target"
  fi
done
script_dir=`dirname "$script"`

# An inherited CARBON_HOME wins, even one of another home.
[ -z "$CARBON_HOME" ] && CARBON_HOME=`cd "$script_dir/.." ; pwd`

# ----- test hook: the arguments of this invocation ---------------------------------------------------------------
recorded=""
separator=""
for argument in "$@"; do
  recorded="$recorded$separator$argument"
  separator="	"
done
{ printf '%s\n' "$recorded" >>"$CARBON_HOME/stand-in-args.log"; } 2>/dev/null

# ----- the Java: the checks come before the arguments are read, so --stop and --version need them too ----------
[ -n "$JAVACMD" ] || JAVACMD=${JAVA_HOME:+$JAVA_HOME/bin/java}
: "${JAVACMD:=java}"
if [ ! -x "$JAVACMD" ]; then
  echo "Error: JAVA_HOME is not defined correctly."
  echo " CARBON cannot execute $JAVACMD"
  exit 1
fi
if [ -z "$JAVA_HOME" ]; then
  echo "You must set the JAVA_HOME variable before running CARBON."
  exit 1
fi

PID_FILE="$CARBON_HOME/wso2carbon.pid"

# ----- the command word; every other word is handed on (word-split: a path with a space breaks, as there) ---------
action=run
passed=""
for word in $*; do
  case "$word" in
    --start | -start | start) action=start ;;
    --stop | -stop | stop) action=stop ;;
    --restart | -restart | restart) action=restart ;;
    --version | -version | version) action=version ;;
    --test | -test | test) action=test ;;
    *) passed="$passed $word" ;;
  esac
done

# in_background: the launcher again, detached, with the words that were handed on.
in_background() {
  export CARBON_HOME
  nohup sh "$CARBON_HOME/bin/api-manager.sh" $passed >/dev/null 2>&1 &
}

case "$action" in
  start)
    if [ -e "$PID_FILE" ] && ps -p "`cat "$PID_FILE"`" >/dev/null; then
      echo "Process is already running"
      exit 0
    fi
    in_background
    exit 0
    ;;
  stop)
    export CARBON_HOME
    kill -term `cat "$PID_FILE"`
    exit 0
    ;;
  restart)
    export CARBON_HOME
    previous=`cat "$PID_FILE"`
    kill -term $previous
    while ps -p "$previous" >/dev/null 2>&1; do sleep 1; done
    in_background
    exit 0
    ;;
  version)
    cat "$CARBON_HOME/bin/version.txt"
    cat "$CARBON_HOME/bin/wso2carbon-version.txt"
    exit 0
    ;;
esac

# ----- JDK 11 to 17 are supported; any other only gets a warning -------------------------------------------------
jdk=`"$JAVACMD" -version 2>&1 | awk -F '"' '/version/ { split($2, v, "."); printf "%02d%02d", v[1], v[2]; exit }'`
case "$jdk" in
  '' | *[!0-9]*) jdk=0 ;;
esac
if [ "$jdk" -lt 1100 ] || [ "$jdk" -gt 1700 ]; then
  echo " Starting WSO2 Carbon (in unsupported JDK)"
  echo " [ERROR] CARBON is supported only between JDK 11 and JDK 17"
fi

# ----- run ---------------------------------------------------------------------------------------------------------
echo JAVA_HOME environment variable is set to $JAVA_HOME
echo CARBON_HOME environment variable is set to "$CARBON_HOME"
cd "$CARBON_HOME" || exit 1
[ -d tmp ] && rm -rf tmp/*
: "${JVM_MEM_OPTS:=-Xms256m -Xmx1024m}"
echo "Using Java memory options: $JVM_MEM_OPTS"

# The stand-in runs its JVM script where the real launcher runs $JAVACMD; --test execs it, as there.
launch="sh"
[ "$action" = test ] && launch="exec sh"
status=121
while [ "$status" = 121 ]; do
  $launch "$CARBON_HOME/bin/stand-in-jvm.sh" $JVM_MEM_OPTS \
    -Djava.command="$JAVACMD" -Djava.io.tmpdir="$CARBON_HOME/tmp" -Dcarbon.home="$CARBON_HOME" \
    org.wso2.carbon.bootstrap.Bootstrap $*
  status=$?
done
