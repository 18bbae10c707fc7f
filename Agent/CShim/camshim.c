// Implementation of camshim.h on a POSIX libc (glibc on the host, musl on targets).
#define _GNU_SOURCE
#include "camshim.h"

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

// The signal mask cs_poll waits with and children start with: the inherited
// one with SIGTERM/SIGINT open. Set by cs_install_signal_handlers.
static sigset_t wait_mask;

long long cs_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long cs_uptime_ms(void) {
    struct sysinfo info;
    if (sysinfo(&info) != 0) return -1;
    return (long long)info.uptime * 1000;
}

long long cs_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec;
}

// Kernels before 3.17 (HiSilicon and DaVinci SDKs ship 3.4 and 2.6) have no
// getrandom(2): fall back to /dev/urandom there, and only there.
static int random_from_urandom(unsigned char *buf, long len) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long done = 0;
    while (done < len) {
        ssize_t n = read(fd, buf + done, (size_t)(len - done));
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            int err = n < 0 ? errno : EIO;
            close(fd);
            return -err;
        }
        done += n;
    }
    close(fd);
    return 0;
}

int cs_random(unsigned char *buf, long len) {
    long done = 0;
    while (done < len) {
        ssize_t n = getrandom(buf + done, (size_t)(len - done), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS) return random_from_urandom(buf + done, len - done);
            return -errno;
        }
        done += n;
    }
    return 0;
}

static socklen_t fill_sockaddr(struct sockaddr_storage *ss, int family, const unsigned char *addr16, int port) {
    memset(ss, 0, sizeof(*ss));
    if (family == 6) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)ss;
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons((unsigned short)port);
        memcpy(&sa->sin6_addr, addr16, 16);
        return sizeof(*sa);
    }
    struct sockaddr_in *sa = (struct sockaddr_in *)ss;
    sa->sin_family = AF_INET;
    sa->sin_port = htons((unsigned short)port);
    memcpy(&sa->sin_addr, addr16, 4);
    return sizeof(*sa);
}

int cs_tcp_connect(int family, const unsigned char *addr16, int port) {
    struct sockaddr_storage ss;
    socklen_t len = fill_sockaddr(&ss, family, addr16, port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&ss, len) < 0 && errno != EINPROGRESS) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

int cs_connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
    return -err;
}

int cs_udp_connect(int family, const unsigned char *addr16, int port) {
    struct sockaddr_storage ss;
    socklen_t len = fill_sockaddr(&ss, family, addr16, port);
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

long cs_recv_from(int fd, unsigned char *buf, long len, unsigned char *from_record, int *from_port) {
    struct sockaddr_storage ss;
    for (;;) {
        socklen_t sslen = sizeof(ss);
        ssize_t n = recvfrom(fd, buf, (size_t)len, 0, (struct sockaddr *)&ss, &sslen);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return CS_EAGAIN_RESULT;
            return -errno;
        }
        memset(from_record, 0, CS_ADDR_RECORD);
        *from_port = 0;
        if (ss.ss_family == AF_INET) {
            from_record[0] = 4;
            memcpy(from_record + 4, &((struct sockaddr_in *)&ss)->sin_addr, 4);
            *from_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            from_record[0] = 6;
            memcpy(from_record + 4, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
            *from_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        return (long)n;
    }
}

long cs_read(int fd, unsigned char *buf, long len) {
    for (;;) {
        ssize_t n = recv(fd, buf, (size_t)len, 0);
        if (n >= 0) return (long)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return CS_EAGAIN_RESULT;
        return -errno;
    }
}

long cs_write(int fd, const unsigned char *buf, long len) {
    for (;;) {
        ssize_t n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
        if (n >= 0) return (long)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return CS_EAGAIN_RESULT;
        return -errno;
    }
}

int cs_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }

int cs_close(int fd) { return close(fd) < 0 ? -errno : 0; }

int cs_poll(const int *fds, const int *events, int *revents, int n, int timeout_ms) {
    // The agent polls few descriptors (2 control links + 2 per tunnel); a fixed
    // stack array keeps the loop allocation-free.
    enum { MAX_FDS = 256 };
    struct pollfd pfds[MAX_FDS];
    if (n > MAX_FDS) return -EINVAL;
    for (int i = 0; i < n; i++) {
        pfds[i].fd = fds[i];
        pfds[i].events = (short)(((events[i] & CS_POLL_IN) ? POLLIN : 0) | ((events[i] & CS_POLL_OUT) ? POLLOUT : 0));
        pfds[i].revents = 0;
    }
    struct timespec ts, *limit = NULL;
    if (timeout_ms >= 0) {
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000;
        limit = &ts;
    }
    // The mask from before cs_install_signal_handlers: SIGTERM/SIGINT open only while waiting.
    int rc = ppoll(pfds, (nfds_t)n, limit, &wait_mask);
    if (rc < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        int r = 0;
        if (pfds[i].revents & POLLIN) r |= CS_POLL_IN;
        if (pfds[i].revents & POLLOUT) r |= CS_POLL_OUT;
        if (pfds[i].revents & (POLLERR | POLLNVAL)) r |= CS_POLL_ERR;
        if (pfds[i].revents & POLLHUP) r |= CS_POLL_HUP;
        revents[i] = r;
    }
    return rc;
}

long cs_read_file(const unsigned char *path, long path_len, unsigned char *buf, long cap) {
    char name[4096];
    if (path_len <= 0 || path_len >= (long)sizeof(name)) return -ENAMETOOLONG;
    memcpy(name, path, (size_t)path_len);
    name[path_len] = 0;
    int fd = open(name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long total = 0;
    for (;;) {
        if (total == cap) {
            unsigned char probe;
            ssize_t extra = read(fd, &probe, 1);
            close(fd);
            return extra > 0 ? CS_ETOOBIG : total;
        }
        ssize_t n = read(fd, buf + total, (size_t)(cap - total));
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            close(fd);
            return -err;
        }
        if (n == 0) break;
        total += n;
    }
    close(fd);
    return total;
}

int cs_write_file_atomic(const unsigned char *path, long path_len, const unsigned char *data, long len) {
    char name[4096], temp[4100], dir[4096];
    if (path_len <= 0 || path_len >= (long)sizeof(name)) return -ENAMETOOLONG;
    memcpy(name, path, (size_t)path_len);
    name[path_len] = 0;
    // Not snprintf: it would pull musl's printf core (~10 KB on armv5) into the agent.
    memcpy(temp, name, (size_t)path_len);
    memcpy(temp + path_len, ".tmp", sizeof(".tmp"));
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    long done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, (size_t)(len - done));
        if (n < 0) {
            if (errno == EINTR) continue;
            int err = errno;
            close(fd);
            unlink(temp);
            return -err;
        }
        done += n;
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        int err = errno;
        unlink(temp);
        return -err;
    }
    if (rename(temp, name) < 0) {
        int err = errno;
        unlink(temp);
        return -err;
    }
    // The rename itself is durable only once the directory is synced.
    memcpy(dir, name, (size_t)path_len + 1);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0; else if (slash) *slash = 0; else strcpy(dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static void write_all(int fd, const unsigned char *buf, long len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, (size_t)len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        buf += n;
        len -= n;
    }
}

void cs_write_stderr(const unsigned char *buf, long len) { write_all(2, buf, len); }
void cs_write_stdout(const unsigned char *buf, long len) { write_all(1, buf, len); }

long cs_command_line(unsigned char *buf, long cap) {
    static const unsigned char path[] = "/proc/self/cmdline";
    return cs_read_file(path, (long)sizeof(path) - 1, buf, cap);
}

long cs_error_text(int code, unsigned char *buf, long cap) {
    const char *text;
    if (code == CS_ETOOBIG) {
        text = "file too large";
    } else {
        text = strerror(-code);
    }
    long len = (long)strlen(text);
    if (len > cap) len = cap;
    memcpy(buf, text, (size_t)len);
    return len;
}

static volatile sig_atomic_t termination_flag = 0;

static void on_termination(int sig) {
    (void)sig;
    termination_flag = 1;
}

void cs_install_signal_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = on_termination;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    // Blocked except inside cs_poll's ppoll: a signal that lands between the
    // loop's flag check and the wait would otherwise sleep until the next
    // deadline, which (with no poll cap) may be a heartbeat away.
    sigset_t blocked;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGINT);
    sigprocmask(SIG_BLOCK, &blocked, &wait_mask);
    // A parent may have left them blocked (a test runner's threads do): the wait opens them regardless.
    sigdelset(&wait_mask, SIGTERM);
    sigdelset(&wait_mask, SIGINT);
}

int cs_termination_requested(void) { return termination_flag; }

void cs_exit(int code) { exit(code); }

static char *put_hex16(char *p, unsigned value) {
    static const char digits[] = "0123456789abcdef";
    int shift = 12;
    while (shift > 0 && !(value >> shift)) shift -= 4;
    for (; shift >= 0; shift -= 4) *p++ = digits[(value >> shift) & 0xF];
    return p;
}

static char *put_decimal8(char *p, unsigned value) {
    if (value >= 100) *p++ = (char)('0' + value / 100);
    if (value >= 10) *p++ = (char)('0' + value / 10 % 10);
    *p++ = (char)('0' + value % 10);
    return p;
}

// inet_ntop without it: musl's formats through snprintf, which would pull the
// printf core (~10 KB on armv5) into the agent for this alone. Same output as
// musl's (lowercase hex, the longest run of zero groups as "::", IPv4-mapped
// addresses as ::ffff:a.b.c.d), so logs and state files read the same.
static void address_text(int family, const unsigned char *a, char *text) {
    char *p = text;
    if (family == AF_INET) {
        for (int i = 0; i < 4; i++) {
            if (i) *p++ = '.';
            p = put_decimal8(p, a[i]);
        }
        *p = 0;
        return;
    }
    static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    int mapped = !memcmp(a, v4_mapped, sizeof(v4_mapped));
    for (int group = 0; group < (mapped ? 6 : 8); group++) {
        if (group) *p++ = ':';
        p = put_hex16(p, 256u * a[2 * group] + a[2 * group + 1]);
    }
    for (int i = 12; mapped && i < 16; i++) {
        *p++ = i == 12 ? ':' : '.';
        p = put_decimal8(p, a[i]);
    }
    *p = 0;
    // musl's rule: replace the longest /(^0|:)[:0]{2,}/ with "::".
    size_t i, best = 0, longest = 2;
    for (i = 0; text[i]; i++) {
        if (i && text[i] != ':') continue;
        size_t run = strspn(text + i, ":0");
        if (run > longest) best = i, longest = run;
    }
    if (longest > 3) {
        text[best] = text[best + 1] = ':';
        memmove(text + best + 2, text + best + longest, i - best - longest + 1);
    }
}

static int format_address(int family, const void *addr, unsigned char *out, int cap) {
    char text[INET6_ADDRSTRLEN];
    address_text(family, addr, text);
    int len = (int)strlen(text);
    if (len > cap) return -ENOSPC;
    memcpy(out, text, (size_t)len);
    return len;
}

int cs_format_record(const unsigned char *record, unsigned char *out, int cap) {
    return format_address(record[0] == 6 ? AF_INET6 : AF_INET, record + 4, out, cap);
}

static int format_sockaddr(const struct sockaddr_storage *sa, unsigned char *out, int cap) {
    if (sa->ss_family == AF_INET) return format_address(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, cap);
    if (sa->ss_family == AF_INET6) return format_address(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, cap);
    return -EAFNOSUPPORT;
}

int cs_local_address(int fd, unsigned char *out, int cap) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return -errno;
    return format_sockaddr(&sa, out, cap);
}

int cs_peer_address(int fd, unsigned char *out, int cap) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0) return -errno;
    return format_sockaddr(&sa, out, cap);
}

int cs_spawn(const unsigned char *cmdline, long len) {
    char line[260];
    char *argv[16];
    if (len <= 0 || len >= (long)sizeof(line)) return -EINVAL;
    memcpy(line, cmdline, (size_t)len);
    line[len] = 0;
    int argc = 0;
    for (char *p = line; *p && argc < 15;) {
        while (*p == ' ') *p++ = 0;
        if (!*p) break;
        argv[argc++] = p;
        while (*p && *p != ' ') p++;
    }
    if (argc == 0 || argv[0][0] != '/') return -EINVAL;
    argv[argc] = NULL;
    // Children are never waited for: let the kernel reap them.
    signal(SIGCHLD, SIG_IGN);
    extern char **environ;
    // The child must not inherit the loop's blocked SIGTERM/SIGINT.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &wait_mask);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], NULL, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    return rc == 0 ? (int)pid : -rc;
}
