/// The init scripts the overlay installs: BusyBox rcS (a supervisor loop of
/// our own, since rcS has no respawn) and OpenWrt procd (procd respawns).
enum InitScripts {
    static func script(for board: BoardProfile) -> String {
        switch board.initSystem {
        case .busyboxRCS: return busyboxRCS(board)
        case .procd: return procd(board)
        }
    }

    /// /etc/init.d/S95camagent, run as `S95camagent start` by rcS (after the
    /// vendor's network scripts, which sort earlier) and `stop` by rcK.
    /// - start waits (in the background, so boot goes on) for a default route,
    ///   then supervises the agent: restarted 5 s after any exit except a
    ///   configuration or usage error (exit 78/64), which no restart can fix.
    /// - stop: TERM to the supervisor, which passes it on to the agent and
    ///   waits for it (the agent exits 0 on TERM); KILL after 10 s.
    static func busyboxRCS(_ board: BoardProfile) -> String {
        """
        #!/bin/sh
        # camagent: connects this \(board.model) to its management endpoint.
        # Installed by camagent-firmware for board \(board.name). Usage: $0 start|stop|restart|status
        AGENT=\(board.installPath)
        CONFIG=\(board.configPath)
        STATE_DIR=\(board.stateDirectory)
        SUPERVISOR_PID=\(board.pidDirectory)/camagent-supervisor.pid
        AGENT_PID=\(board.pidDirectory)/camagent.pid
        LOG=\(board.logTo)
        NETWORK_WAIT_SECONDS=60
        RESPAWN_DELAY_SECONDS=5

        say() { echo "camagent: $*" >>"$LOG" 2>/dev/null || echo "camagent: $*" >&2; }

        running() {
            [ -f "$SUPERVISOR_PID" ] && kill -0 "$(cat "$SUPERVISOR_PID")" 2>/dev/null
        }

        # A default route in /proc/net/route means an interface is up and configured.
        wait_for_network() {
            waited=0
            while [ "$waited" -lt "$NETWORK_WAIT_SECONDS" ]; do
                grep -q '^[^[:space:]]*[[:space:]]00000000[[:space:]]' /proc/net/route 2>/dev/null && return 0
                sleep 1
                waited=$((waited + 1))
            done
            say "no default route after ${NETWORK_WAIT_SECONDS}s; starting anyway (the agent retries)"
        }

        supervise() {
            child=""
            trap 'stopping=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
            stopping=0
            wait_for_network
            while [ "$stopping" -eq 0 ]; do
                "$AGENT" --config "$CONFIG" </dev/null >>"$LOG" 2>&1 &
                child=$!
                echo "$child" >"$AGENT_PID"
                say "started agent (pid $child)"
                status=0
                wait "$child" || status=$?
                # wait returns early (>128) when our trap ran: wait for the agent itself.
                while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
                rm -f "$AGENT_PID"
                [ "$stopping" -eq 0 ] || break
                case $status in
                    64|78) say "agent exited with $status (usage/config error); not restarting"; break ;;
                esac
                say "agent exited with status $status; restarting in ${RESPAWN_DELAY_SECONDS}s"
                sleep "$RESPAWN_DELAY_SECONDS" &
                wait $! 2>/dev/null
            done
            rm -f "$SUPERVISOR_PID"
            say "stopped"
        }

        start() {
            if running; then say "already running"; return 0; fi
            if ! "$AGENT" --config "$CONFIG" --check >/dev/null 2>>"$LOG"; then
                say "$CONFIG is not a valid config (see above); not starting"
                return 1
            fi
            mkdir -p "$STATE_DIR" "$(dirname "$SUPERVISOR_PID")"
            chmod 700 "$STATE_DIR"
            supervise </dev/null >/dev/null 2>&1 &
            echo $! >"$SUPERVISOR_PID"
            say "supervisor started (pid $!)"
        }

        stop() {
            running || { rm -f "$SUPERVISOR_PID" "$AGENT_PID"; return 0; }
            pid=$(cat "$SUPERVISOR_PID")
            kill -TERM "$pid" 2>/dev/null
            waited=0
            while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt 100 ]; do
                sleep 0.1 2>/dev/null || sleep 1
                waited=$((waited + 1))
            done
            if kill -0 "$pid" 2>/dev/null; then
                say "supervisor did not stop in 10s; killing"
                [ -f "$AGENT_PID" ] && kill -KILL "$(cat "$AGENT_PID")" 2>/dev/null
                kill -KILL "$pid" 2>/dev/null
            fi
            rm -f "$SUPERVISOR_PID" "$AGENT_PID"
        }

        case "$1" in
            start) start ;;
            stop) stop ;;
            restart) stop; start ;;
            status) if running; then echo "camagent is running"; else echo "camagent is stopped"; exit 1; fi ;;
            *) echo "usage: $0 start|stop|restart|status" >&2; exit 64 ;;
        esac

        """
    }

    /// /etc/init.d/camagent for OpenWrt: START=99 runs after the network
    /// (START=20); procd respawns the agent (forever, 5 s apart) and stops it
    /// with TERM on `stop`.
    static func procd(_ board: BoardProfile) -> String {
        """
        #!/bin/sh /etc/rc.common
        # camagent: connects the cameras behind this router to the management endpoint.
        # Installed by camagent-firmware for board \(board.name).
        START=99
        STOP=10
        USE_PROCD=1
        AGENT=\(board.installPath)
        CONFIG=\(board.configPath)
        STATE_DIR=\(board.stateDirectory)

        start_service() {
            if ! "$AGENT" --config "$CONFIG" --check >/dev/null; then
                echo "camagent: $CONFIG is not a valid config; not starting" >&2
                return 1
            fi
            mkdir -p "$STATE_DIR"
            chmod 700 "$STATE_DIR"
            procd_open_instance
            procd_set_param command "$AGENT" --config "$CONFIG"
            # threshold 3600 s, 5 s between restarts, retry forever
            procd_set_param respawn 3600 5 0
            procd_set_param stdout 1
            procd_set_param stderr 1
            procd_set_param term_timeout 10
            procd_close_instance
        }

        service_triggers() {
            procd_add_reload_trigger camagent
        }

        """
    }
}
