// camshim: the only place the agent touches libc.
//
// Every function takes integers or pointer+length pairs and includes no system
// header. That keeps the Swift side free of libc types, so the same Swift
// sources import this header on the host, in Embedded Swift for bare-metal
// triples, and (later) under wasm32, where a pointer is a linear-memory offset
// and a host layer implements these functions with bounds checks.
//
// Return convention: >= 0 success, < 0 is a negated errno (or CS_E* below).
#ifndef CAMSHIM_H
#define CAMSHIM_H

#ifdef __cplusplus
extern "C" {
#endif

// poll event bits (our own, translated to POLL* inside the shim).
#define CS_POLL_IN 1
#define CS_POLL_OUT 2
#define CS_POLL_ERR 4
#define CS_POLL_HUP 8

#define CS_EAGAIN_RESULT (-11)

// Address record: 20 bytes = family (4 or 6), 3 zero bytes, 16 address bytes.
#define CS_ADDR_RECORD 20

long long cs_monotonic_ms(void);
long long cs_wall_seconds(void);
// How long the system has been up (sysinfo(2): whole seconds, on every kernel),
// in milliseconds; -1 if unknown. Tells a cold boot from a process restart.
long long cs_uptime_ms(void);
int cs_random(unsigned char *buf, long len);

// Starts a non-blocking TCP connect. Returns the fd (connect may still be in
// progress: wait for CS_POLL_OUT, then call cs_connect_result) or < 0.
int cs_tcp_connect(int family, const unsigned char *addr16, int port);
// 0 once connected, else the negated socket error.
int cs_connect_result(int fd);

// A non-blocking UDP socket connected to addr:port (for DNS): the kernel gives
// it a random source port and drops datagrams from any other address.
// Returns the fd or < 0. Send with cs_write.
int cs_udp_connect(int family, const unsigned char *addr16, int port);
// As cs_read, and writes the sender as a CS_ADDR_RECORD and its port.
long cs_recv_from(int fd, unsigned char *buf, long len, unsigned char *from_record, int *from_port);

// The numeric text of a CS_ADDR_RECORD / of a connected socket's own and peer
// address. Return the length written (no NUL) or < 0.
int cs_format_record(const unsigned char *record, unsigned char *out, int cap);
int cs_local_address(int fd, unsigned char *out, int cap);
int cs_peer_address(int fd, unsigned char *out, int cap);

// Starts `cmdline` (an absolute path and arguments separated by spaces, no
// shell) as a detached child that is reaped automatically. Returns its pid or
// the negated errno.
int cs_spawn(const unsigned char *cmdline, long len);

long cs_read(int fd, unsigned char *buf, long len);   // 0 = EOF, CS_EAGAIN_RESULT = would block
long cs_write(int fd, const unsigned char *buf, long len);
int cs_shutdown_write(int fd);
int cs_close(int fd);

// fds/events/revents are parallel arrays of n entries; timeout_ms < 0 waits
// for I/O only. SIGTERM/SIGINT are blocked outside the wait (see
// cs_install_signal_handlers), so one that arrives before the call still
// interrupts it: returns 0 then, and the caller checks cs_termination_requested.
int cs_poll(const int *fds, const int *events, int *revents, int n, int timeout_ms);

// Reads a whole file (path is not NUL-terminated). Returns bytes read, or < 0.
// A file larger than cap returns CS_ETOOBIG.
#define CS_ETOOBIG (-100000)
long cs_read_file(const unsigned char *path, long path_len, unsigned char *buf, long cap);

// Replaces a file so that a crash or power loss at any instant leaves either
// the old content or the new, never a torn file: write PATH.tmp (mode 0600),
// fsync it, rename it over PATH, fsync the directory. 0 or < 0.
int cs_write_file_atomic(const unsigned char *path, long path_len, const unsigned char *data, long len);

// Writes to stderr, retrying short writes.
void cs_write_stderr(const unsigned char *buf, long len);
void cs_write_stdout(const unsigned char *buf, long len);

// The process command line as NUL-separated arguments (from /proc/self/cmdline).
long cs_command_line(unsigned char *buf, long cap);

// Human-readable text for a negated errno; returns length.
long cs_error_text(int code, unsigned char *buf, long cap);

// SIGPIPE ignored; SIGTERM/SIGINT set a flag that cs_termination_requested
// reads. Both stay blocked except inside cs_poll, which has no timeout cap.
void cs_install_signal_handlers(void);
int cs_termination_requested(void);

void cs_exit(int code) __attribute__((noreturn));

// ---- TLS client (mbedTLS), camtls.c ----
// A session wraps a connected non-blocking socket; the socket stays the
// caller's to poll and close. Handles are small integers.
#define CS_TLS_WANT_READ (-20001)
#define CS_TLS_WANT_WRITE (-20002)
// TLS library errors come back as -(CS_TLS_ERROR_BASE + n).
#define CS_TLS_ERROR_BASE 200000

// Loads the CA bundle (PEM) and seeds the DRBG from getrandom. Call once.
int cs_tls_configure(const unsigned char *ca_path, long ca_path_len);
// New session on fd; the server certificate must name host. Returns a handle or < 0.
int cs_tls_open(int fd, const unsigned char *host, long host_len);
// 0 when the handshake is done, CS_TLS_WANT_READ/WRITE to wait on the socket, or < 0.
int cs_tls_handshake(int handle);
// As cs_read/cs_write. cs_tls_read returns 0 on close_notify or EOF,
// CS_EAGAIN_RESULT when it needs more socket data. cs_tls_write must be retried
// with the same bytes after CS_EAGAIN_RESULT.
long cs_tls_read(int handle, unsigned char *buf, long len);
long cs_tls_write(int handle, const unsigned char *buf, long len);
// Decrypted bytes (or whole records) waiting inside the session: poll(2)
// cannot see them, so the caller must read again while this is non-zero.
int cs_tls_pending(int handle);
// Sends close_notify if it can, then frees the session (not the socket).
void cs_tls_close(int handle);
// Why a TLS call failed, including the certificate check's reasons.
long cs_tls_error_text(int handle, int code, unsigned char *buf, long cap);

#ifdef __cplusplus
}
#endif
#endif
