// rtsp-load: N RTSP players (interleaved TCP) in one thread, for Scripts/bench --media.
// Each connection DESCRIBEs the URL, SETs UP every track, PLAYs, then only reads
// and counts bytes, so the client costs a read per wake-up and never decides a
// figure by being the bottleneck (ffprobe or Python would at hundreds of viewers).
//
//   rtsp-load URL N SECONDS [--settle S] [--ramp-timeout S] [--watch-pid PID]
//
// Starts N connections (in batches, so the server's accept backlog is not the
// test), waits until every one is playing (or --ramp-timeout, default 30 s, has
// passed) and --settle seconds more (default 1: a new viewer's GOP-cache burst
// is not a rate), then counts SECONDS. Prints one line of key=value figures:
//   viewers, playing, failed, window_s, bytes (in the window), mbps_mean,
//   mbps_min, mbps_p10 (per playing viewer), gbps_total, first_error; with
//   --watch-pid also that process's CPU over the window (cpu_pct, 100 = one
//   core) and its RSS at the end (rss_kb), read from /proc at the window's edges;
//   always the client's own CPU over the window (client_cpu_pct), to show it was not the limit.
// SIGTERM or SIGINT ends the window early (the line is still printed): with a
// long SECONDS it holds a stream open in the background.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { CONNECTING, DESCRIBING, SETTING_UP, STARTING, PLAYING, DEAD };

#define MAX_TRACKS 4
#define HANDSHAKE_LIMIT 65536

struct conn {
    int fd;
    enum state state;
    int track, tracks;
    char controls[MAX_TRACKS][256];
    char base[1024];
    char session[128];
    char *buf;
    size_t len;
    uint64_t bytes;  // every byte received
    uint64_t mark;   // bytes when the window started
};

static volatile sig_atomic_t stop_requested;
static char url[2048], host[256], port[16];
static char first_error[256];
static int failed;

static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(struct conn *c, const char *why) {
    if (c->state == DEAD) return;
    if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", why);
    failed++;
    c->state = DEAD;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
}

static void send_text(struct conn *c, const char *text) {
    size_t left = strlen(text);
    while (left > 0) {
        ssize_t n = send(c->fd, text, left, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;  // a few hundred bytes: never for long
        if (n <= 0) { fail(c, "send failed"); return; }
        text += n;
        left -= (size_t)n;
    }
}

static void send_setup(struct conn *c) {
    char request[2048], uri[1400];
    const char *control = c->controls[c->track];
    if (strncmp(control, "rtsp://", 7) == 0) snprintf(uri, sizeof uri, "%s", control);
    else snprintf(uri, sizeof uri, "%s%s%s", c->base, c->base[0] && c->base[strlen(c->base) - 1] == '/' ? "" : "/", control);
    char session[160] = "";
    if (c->session[0]) snprintf(session, sizeof session, "Session: %s\r\n", c->session);
    snprintf(request, sizeof request,
             "SETUP %s RTSP/1.0\r\nCSeq: %d\r\n%sTransport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n\r\n",
             uri, c->track + 2, session, 2 * c->track, 2 * c->track + 1);
    send_text(c, request);
}

static const char *header(const char *head, const char *name, char *out, size_t size) {
    size_t length = strlen(name);
    for (const char *line = head; line && *line; line = strstr(line, "\r\n") ? strstr(line, "\r\n") + 2 : NULL) {
        if (strncasecmp(line, name, length) == 0 && line[length] == ':') {
            const char *value = line + length + 1;
            while (*value == ' ') value++;
            size_t n = strcspn(value, "\r\n");
            if (n >= size) n = size - 1;
            memcpy(out, value, n);
            out[n] = 0;
            return out;
        }
    }
    return NULL;
}

// One whole response in c->buf: acts on it. Returns the bytes it used, 0 if incomplete.
static size_t take_response(struct conn *c) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t head_length = (size_t)(end - c->buf) + 4;
    char head[8192];
    size_t copy = head_length < sizeof head ? head_length : sizeof head - 1;
    memcpy(head, c->buf, copy);
    head[copy] = 0;
    char value[1024];
    size_t body_length = header(head, "Content-Length", value, sizeof value) ? (size_t)atol(value) : 0;
    if (c->len < head_length + body_length) return 0;
    if (strncmp(head, "RTSP/1.0 200", 12) != 0) {
        char why[128];
        snprintf(why, sizeof why, "%.*s", (int)strcspn(head, "\r\n"), head);
        fail(c, why);
        return 0;
    }
    switch (c->state) {
    case DESCRIBING: {
        if (header(head, "Content-Base", value, sizeof value)) snprintf(c->base, sizeof c->base, "%s", value);
        char body[16384];
        size_t n = body_length < sizeof body ? body_length : sizeof body - 1;
        memcpy(body, c->buf + head_length, n);
        body[n] = 0;
        c->tracks = 0;
        for (char *line = strstr(body, "a=control:"); line && c->tracks < MAX_TRACKS; line = strstr(line + 1, "a=control:")) {
            const char *control = line + 10;
            size_t length = strcspn(control, "\r\n");
            if (length == 1 && control[0] == '*') continue;
            snprintf(c->controls[c->tracks++], sizeof c->controls[0], "%.*s", (int)length, control);
        }
        if (c->tracks == 0) { fail(c, "no track in the SDP"); return 0; }
        c->track = 0;
        c->state = SETTING_UP;
        send_setup(c);
        break;
    }
    case SETTING_UP:
        if (header(head, "Session", value, sizeof value)) {
            value[strcspn(value, ";")] = 0;
            snprintf(c->session, sizeof c->session, "%.127s", value);
        }
        if (++c->track < c->tracks) {
            send_setup(c);
        } else {
            char request[2048];
            snprintf(request, sizeof request, "PLAY %s RTSP/1.0\r\nCSeq: %d\r\nSession: %s\r\nRange: npt=0.000-\r\n\r\n",
                     c->base, c->tracks + 2, c->session);
            c->state = STARTING;
            send_text(c, request);
        }
        break;
    case STARTING:
        c->state = PLAYING;  // what follows is media, already counted
        free(c->buf);
        c->buf = NULL;
        c->len = 0;
        return 0;
    default:
        break;
    }
    return head_length + body_length;
}

static void on_readable(struct conn *c, char *scratch, size_t scratch_size) {
    for (int reads = 0; reads < 4 && c->state != DEAD; reads++) {
        if (c->state == PLAYING) {
            ssize_t n = recv(c->fd, scratch, scratch_size, 0);
            if (n > 0) { c->bytes += (uint64_t)n; continue; }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            fail(c, n == 0 ? "the server closed a playing viewer" : "recv failed");
            return;
        }
        if (!c->buf) c->buf = malloc(HANDSHAKE_LIMIT);
        if (c->len == HANDSHAKE_LIMIT) { fail(c, "handshake answer too long"); return; }
        ssize_t n = recv(c->fd, c->buf + c->len, HANDSHAKE_LIMIT - c->len, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) { fail(c, "the server closed during the handshake"); return; }
        c->bytes += (uint64_t)n;
        c->len += (size_t)n;
        size_t used;
        while (c->buf && c->state != PLAYING && c->state != DEAD && (used = take_response(c)) > 0) {
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
        }
    }
}

// utime + stime of `pid` in clock ticks, or -1.
static long long cpu_ticks(int pid) {
    char path[64], text[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    size_t n = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[n] = 0;
    char *after_name = strrchr(text, ')');  // the command name may hold spaces
    if (!after_name) return -1;
    long long utime = 0, stime = 0;
    // Fields after the name: state(3) ... utime(14) stime(15).
    if (sscanf(after_name + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &utime, &stime) != 2) return -1;
    return utime + stime;
}

static long rss_kb(int pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, file)) {
        if (strncmp(line, "VmRSS:", 6) == 0) { kb = atol(line + 6); break; }
    }
    fclose(file);
    return kb;
}

static double own_cpu_s(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6
        + (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: rtsp-load URL N SECONDS [--settle S] [--ramp-timeout S]\n");
        return 2;
    }
    snprintf(url, sizeof url, "%s", argv[1]);
    int count = atoi(argv[2]);
    double seconds = atof(argv[3]), settle = 1, ramp_timeout = 30;
    int watch = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--settle") == 0) settle = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--ramp-timeout") == 0) ramp_timeout = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--watch-pid") == 0) watch = atoi(argv[i + 1]);
    }
    if (count < 1 || count > 20000 || seconds <= 0 || strncmp(url, "rtsp://", 7) != 0) {
        fprintf(stderr, "rtsp-load: bad arguments\n");
        return 2;
    }
    const char *authority = url + 7;
    size_t authority_length = strcspn(authority, "/?");
    const char *colon = memchr(authority, ':', authority_length);
    if (!colon) { fprintf(stderr, "rtsp-load: the URL needs a port\n"); return 2; }
    snprintf(host, sizeof host, "%.*s", (int)(colon - authority), authority);
    snprintf(port, sizeof port, "%.*s", (int)(authority + authority_length - colon - 1), colon + 1);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *address;
    if (getaddrinfo(host, port, &hints, &address) != 0) { fprintf(stderr, "rtsp-load: cannot resolve %s\n", host); return 2; }

    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t)count + 64) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    struct conn *conns = calloc((size_t)count, sizeof *conns);
    int epoll = epoll_create1(0);
    size_t scratch_size = 256 * 1024;
    char *scratch = malloc(scratch_size);
    struct epoll_event events[256];
    int started = 0;
    double begin = now_s(), all_playing_at = 0, window_start = 0;
    long long ticks_at_start = 0;
    double own_at_start = 0;
    char describe[2400];
    snprintf(describe, sizeof describe, "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n", url);

    while (!stop_requested) {
        double now = now_s();
        // 32 new connections per turn keeps the server's accept backlog from being what is measured.
        for (int batch = 0; batch < 32 && started < count; batch++, started++) {
            struct conn *c = &conns[started];
            c->fd = socket(address->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c->fd < 0) { c->state = CONNECTING; fail(c, "socket failed (open-file limit?)"); continue; }
            int one = 1;
            setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            if (connect(c->fd, address->ai_addr, address->ai_addrlen) < 0 && errno != EINPROGRESS) { fail(c, "connect failed"); continue; }
            c->state = CONNECTING;
            struct epoll_event event = {.events = EPOLLOUT, .data.u32 = (uint32_t)started};
            epoll_ctl(epoll, EPOLL_CTL_ADD, c->fd, &event);
        }
        int ready = epoll_wait(epoll, events, 256, 20);
        for (int i = 0; i < ready; i++) {
            struct conn *c = &conns[events[i].data.u32];
            if (c->state == DEAD) continue;
            if (c->state == CONNECTING) {
                int error = 0;
                socklen_t length = sizeof error;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &length);
                if (error) { fail(c, "connect refused"); continue; }
                struct epoll_event event = {.events = EPOLLIN, .data.u32 = events[i].data.u32};
                epoll_ctl(epoll, EPOLL_CTL_MOD, c->fd, &event);
                c->state = DESCRIBING;
                send_text(c, describe);
                continue;
            }
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c, scratch, scratch_size);
        }
        now = now_s();
        if (window_start == 0) {
            int waiting = 0;
            for (int i = 0; i < count; i++) waiting += i >= started || (conns[i].state != PLAYING && conns[i].state != DEAD);
            if (waiting == 0 && all_playing_at == 0) all_playing_at = now;
            if (all_playing_at == 0 && now - begin > ramp_timeout) all_playing_at = now;
            if (all_playing_at > 0 && now - all_playing_at >= settle) {
                for (int i = 0; i < count; i++) conns[i].mark = conns[i].bytes;
                if (watch) ticks_at_start = cpu_ticks(watch);
                own_at_start = own_cpu_s();
                window_start = now;
            }
        } else if (now - window_start >= seconds) {
            break;
        }
    }
    double window = window_start > 0 ? now_s() - window_start : 0;
    double cpu_pct = -1, client_cpu_pct = window > 0 ? (own_cpu_s() - own_at_start) / window * 100 : -1;
    long rss = -1;
    if (watch && window > 0) {
        long long ticks = cpu_ticks(watch);
        if (ticks >= 0 && ticks_at_start >= 0) cpu_pct = (double)(ticks - ticks_at_start) / (double)sysconf(_SC_CLK_TCK) / window * 100;
        rss = rss_kb(watch);
    }
    int playing = 0;
    uint64_t total = 0;
    double *rates = calloc((size_t)count, sizeof *rates);
    for (int i = 0; i < count; i++) {
        if (conns[i].state != PLAYING) continue;
        uint64_t delta = window_start > 0 ? conns[i].bytes - conns[i].mark : 0;
        total += delta;
        rates[playing++] = window > 0 ? (double)delta * 8 / window / 1e6 : 0;
    }
    qsort(rates, (size_t)playing, sizeof *rates, compare_double);
    double mean = playing && window > 0 ? (double)total * 8 / window / 1e6 / playing : 0;
    for (char *p = first_error; *p; p++) if (*p == ' ') *p = '_';
    printf("viewers=%d playing=%d failed=%d window_s=%.2f bytes=%llu mbps_mean=%.3f mbps_min=%.3f mbps_p10=%.3f gbps_total=%.3f cpu_pct=%.1f rss_kb=%ld client_cpu_pct=%.1f first_error=%s\n",
           count, playing, count - playing, window, (unsigned long long)total, mean, playing ? rates[0] : 0,
           playing ? rates[playing / 10] : 0, window > 0 ? (double)total * 8 / window / 1e9 : 0, cpu_pct, rss, client_cpu_pct,
           first_error[0] ? first_error : "none");
    fflush(stdout);
    for (int i = 0; i < count; i++) if (conns[i].fd > 0) close(conns[i].fd);
    return 0;
}
