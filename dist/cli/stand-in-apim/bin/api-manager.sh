#!/bin/sh
# ---------------------------------------------------------------------------------------------------------------
# A STAND-IN for WSO2 API Manager 4.2.0's bin/api-manager.sh, for apim-migrate's tests and demo. No Java runs.
#
# This launcher behaves like the real one in everything apim-migrate relies on:
#   - CARBON_HOME: one inherited from the environment is kept; otherwise the folder above this script (links
#     resolved);
#   - JAVACMD / JAVA_HOME are checked first, with the real messages and exit 1, before any argument is looked at
#     (so --stop and --version also fail without a Java);
#   - --start / --stop / --restart / --version / --test / --debug <port> (also -start, start, ...) as the real
#     `for c in $*` loop handles them; --stop is a SIGTERM to the pid in <CARBON_HOME>/wso2carbon.pid, exit 0;
#   - the JDK version probe ("$JAVACMD" -version), the JAVA_HOME / CARBON_HOME echo lines, `cd "$CARBON_HOME"`,
#     <CARBON_HOME>/tmp emptied, "Using Java memory options: ...";
#   - the "JVM" runs as a CHILD of this script, in the `while [ "$status" = 121 ]` loop (exit status 121 starts it
#     again), with the real options and `org.wso2.carbon.bootstrap.Bootstrap $*` (word-split, as the real one).
#     The launcher's own exit status is then that of the loop: 0, whatever the JVM's status was.
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

# ----- the Java this would run ------------------------------------------------------------------------------------
if [ -z "$JAVACMD" ]; then
  if [ -n "$JAVA_HOME" ]; then
    if [ -x "$JAVA_HOME/jre/sh/java" ]; then
      JAVACMD="$JAVA_HOME/jre/sh/java"
    else
      JAVACMD="$JAVA_HOME/bin/java"
    fi
  else
    JAVACMD=java
  fi
fi

if [ ! -x "$JAVACMD" ]; then
  echo "Error: JAVA_HOME is not defined correctly."
  echo " CARBON cannot execute $JAVACMD"
  exit 1
fi

if [ -z "$JAVA_HOME" ]; then
  echo "You must set the JAVA_HOME variable before running CARBON."
  exit 1
fi

if [ -e "$CARBON_HOME/wso2carbon.pid" ]; then
  PID=`cat "$CARBON_HOME"/wso2carbon.pid`
fi

# ----- the command words; everything else is handed on (word-split, as the real loop does) -----------------------
args=""
for c in $*
do
  if [ "$c" = "--debug" ] || [ "$c" = "-debug" ] || [ "$c" = "debug" ]; then
    CMD="--debug"
    continue
  elif [ "$CMD" = "--debug" ]; then
    if [ -z "$PORT" ]; then
      PORT=$c
    fi
  elif [ "$c" = "--stop" ] || [ "$c" = "-stop" ] || [ "$c" = "stop" ]; then
    CMD="stop"
  elif [ "$c" = "--start" ] || [ "$c" = "-start" ] || [ "$c" = "start" ]; then
    CMD="start"
  elif [ "$c" = "--version" ] || [ "$c" = "-version" ] || [ "$c" = "version" ]; then
    CMD="version"
  elif [ "$c" = "--restart" ] || [ "$c" = "-restart" ] || [ "$c" = "restart" ]; then
    CMD="restart"
  elif [ "$c" = "--test" ] || [ "$c" = "-test" ] || [ "$c" = "test" ]; then
    CMD="test"
  elif [ "$c" = "--optimize" ] || [ "$c" = "-optimize" ] || [ "$c" = "optimize" ]; then
    # The real launcher runs bin/profileSetup.sh for each -Dprofile=...; the stand-in ships none, so this fails
    # the way a home without that script would.
    skip_optimization=""
    for option in $*; do
      if [ "$option" = "--skipConfigOptimization" ] || [ "$option" = "-skipConfigOptimization" ] ||
        [ "$option" = "skipConfigOptimization" ]; then
        skip_optimization=true
        echo "Passed skipConfigOptimization Option: $skip_optimization"
      fi
    done
    for profile in $*; do
      case "$profile" in
        *Dprofile=*)
          cd $(dirname "$0")
          if [ "$skip_optimization" = true ]; then
            sh profileSetup.sh $profile --skipConfigOptimization
          else
            sh profileSetup.sh $profile
          fi
          echo "Starting the server..."
          ;;
      esac
    done
  else
    args="$args $c"
  fi
done

if [ "$CMD" = "--debug" ]; then
  if [ "$PORT" = "" ]; then
    echo " Please specify the debug port after the --debug option"
    exit 1
  fi
  if [ -n "$JAVA_OPTS" ]; then
    echo "Warning !!!. User specified JAVA_OPTS will be ignored, once you give the --debug option."
  fi
  CMD="RUN"
  JAVA_OPTS="-Xdebug -Xnoagent -Djava.compiler=NONE -Xrunjdwp:transport=dt_socket,server=y,suspend=y,address=$PORT"
  echo "Please start the remote debugging client to continue..."
elif [ "$CMD" = "start" ]; then
  if [ -e "$CARBON_HOME/wso2carbon.pid" ]; then
    if ps -p $PID >/dev/null; then
      echo "Process is already running"
      exit 0
    fi
  fi
  export CARBON_HOME="$CARBON_HOME"
  nohup sh "$CARBON_HOME"/bin/api-manager.sh $args >/dev/null 2>&1 &
  exit 0
elif [ "$CMD" = "stop" ]; then
  export CARBON_HOME="$CARBON_HOME"
  kill -term `cat "$CARBON_HOME"/wso2carbon.pid`
  exit 0
elif [ "$CMD" = "restart" ]; then
  export CARBON_HOME="$CARBON_HOME"
  kill -term `cat "$CARBON_HOME"/wso2carbon.pid`
  alive=0
  old_pid=`cat "$CARBON_HOME"/wso2carbon.pid`
  while [ "$alive" -eq "0" ]; do
    sleep 1
    ps -p$old_pid 2>&1 >/dev/null
    alive=$?
  done
  nohup sh "$CARBON_HOME"/bin/api-manager.sh $args >/dev/null 2>&1 &
  exit 0
elif [ "$CMD" = "test" ]; then
  JAVACMD="exec "$JAVACMD""
elif [ "$CMD" = "version" ]; then
  cat "$CARBON_HOME"/bin/version.txt
  cat "$CARBON_HOME"/bin/wso2carbon-version.txt
  exit 0
fi

# ----- the supported JDKs: 11 to 17 (a warning only) --------------------------------------------------------------
java_version=$("$JAVACMD" -version 2>&1 | awk -F '"' '/version/ {print $2}')
java_version_formatted=$(echo "$java_version" | awk -F. '{printf("%02d%02d",$1,$2);}')
if [ $java_version_formatted -lt 1100 ] || [ $java_version_formatted -gt 1700 ]; then
  echo " Starting WSO2 Carbon (in unsupported JDK)"
  echo " [ERROR] CARBON is supported only between JDK 11 and JDK 17"
fi

# ----- class paths, as the real launcher builds them (the stand-in JVM ignores them) ------------------------------
CARBON_XBOOTCLASSPATH=""
for f in "$CARBON_HOME"/lib/xboot/*.jar; do
  if [ "$f" != "$CARBON_HOME/lib/xboot/*.jar" ]; then
    CARBON_XBOOTCLASSPATH="$CARBON_XBOOTCLASSPATH":$f
  fi
done
CARBON_CLASSPATH=""
if [ -e "$JAVA_HOME/lib/tools.jar" ]; then
  CARBON_CLASSPATH="$JAVA_HOME/lib/tools.jar"
fi
for f in "$CARBON_HOME"/bin/*.jar; do
  if [ "$f" != "$CARBON_HOME/bin/*.jar" ]; then
    CARBON_CLASSPATH="$CARBON_CLASSPATH":$f
  fi
done
for f in "$CARBON_HOME"/lib/*.jar; do
  CARBON_CLASSPATH="$CARBON_CLASSPATH":$f
done

# ----- run ---------------------------------------------------------------------------------------------------------
echo JAVA_HOME environment variable is set to $JAVA_HOME
echo CARBON_HOME environment variable is set to "$CARBON_HOME"

cd "$CARBON_HOME"

TMP_DIR="$CARBON_HOME"/tmp
if [ -d "$TMP_DIR" ]; then
  rm -rf "$TMP_DIR"/*
fi

START_EXIT_STATUS=121
status=$START_EXIT_STATUS

if [ -z "$JVM_MEM_OPTS" ]; then
  java_version=$("$JAVACMD" -version 2>&1 | awk -F '"' '/version/ {print $2}')
  JVM_MEM_OPTS="-Xms256m -Xmx1024m"
  if [ "$java_version" \< "1.8" ]; then
    JVM_MEM_OPTS="$JVM_MEM_OPTS -XX:MaxPermSize=256m"
  fi
fi
echo "Using Java memory options: $JVM_MEM_OPTS"

JAVA_VER_BASED_OPTS="--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens java.rmi/sun.rmi.transport=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED"
if [ $java_version_formatted -ge 1700 ]; then
  JAVA_VER_BASED_OPTS="$JAVA_VER_BASED_OPTS --add-opens=java.naming/com.sun.jndi.ldap=ALL-UNNAMED"
fi

# Where the real launcher runs $JAVACMD, the stand-in runs its JVM script; --test makes it `exec`, as there.
case "$JAVACMD" in
  "exec "*) STAND_IN_JVM="exec sh" ;;
  *) STAND_IN_JVM="sh" ;;
esac

while [ "$status" = "$START_EXIT_STATUS" ]
do
  $STAND_IN_JVM "$CARBON_HOME/bin/stand-in-jvm.sh" \
    -Xbootclasspath/a:"$CARBON_XBOOTCLASSPATH" \
    $JVM_MEM_OPTS \
    -XX:+HeapDumpOnOutOfMemoryError \
    -XX:HeapDumpPath="$CARBON_HOME/repository/logs/heap-dump.hprof" \
    $JAVA_OPTS \
    -Dcom.sun.management.jmxremote \
    -classpath "$CARBON_CLASSPATH" \
    $JAVA_VER_BASED_OPTS \
    -Djava.io.tmpdir="$CARBON_HOME/tmp" \
    -Dcatalina.base="$CARBON_HOME/lib/tomcat" \
    -Dwso2.server.standalone=true \
    -Dcarbon.registry.root=/ \
    -Djava.command="$JAVACMD" \
    -Dcarbon.home="$CARBON_HOME" \
    -Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager \
    -Dcarbon.config.dir.path="$CARBON_HOME/repository/conf" \
    -Djava.util.logging.config.file="$CARBON_HOME/repository/conf/etc/logging-bridge.properties" \
    -Dcomponents.repo="$CARBON_HOME/repository/components/plugins" \
    -Dconf.location="$CARBON_HOME/repository/conf" \
    -Dcom.atomikos.icatch.file="$CARBON_HOME/lib/transactions.properties" \
    -Dcom.atomikos.icatch.hide_init_file_path=true \
    -Dorg.apache.jasper.compiler.Parser.STRICT_QUOTE_ESCAPING=false \
    -Dorg.apache.jasper.runtime.BodyContentImpl.LIMIT_BUFFER=true \
    -Dcom.sun.jndi.ldap.connect.pool.authentication=simple \
    -Dcom.sun.jndi.ldap.connect.pool.timeout=3000 \
    -Dorg.terracotta.quartz.skipUpdateCheck=true \
    -Djava.security.egd=file:/dev/./urandom \
    -Dfile.encoding=UTF8 \
    -Djava.net.preferIPv4Stack=true \
    -Dcom.ibm.cacheLocalHost=true \
    -Dorg.opensaml.httpclient.https.disableHostnameVerification=true \
    -Dhttpclient.hostnameVerifier=AllowAll \
    -DworkerNode=false \
    -DenableCorrelationLogs=false \
    -Dcarbon.new.config.dir.path="$CARBON_HOME/repository/resources/conf" \
    -Djavax.xml.xpath.XPathFactory:http://java.sun.com/jaxp/xpath/dom=net.sf.saxon.xpath.XPathFactoryImpl \
    -Dlog4j2.contextSelector=org.apache.logging.log4j.core.async.AsyncLoggerContextSelector \
    -Dorg.ops4j.pax.logging.logReaderEnabled=false \
    -Dorg.ops4j.pax.logging.eventAdminEnabled=false \
    org.wso2.carbon.bootstrap.Bootstrap $*
  status=$?
done
