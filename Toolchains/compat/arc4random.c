// arc4random_buf for musl, which does not provide it.
//
// Embedded Swift's stdlib calls arc4random_buf for SystemRandomNumberGenerator
// (Int.random, Dictionary/Set hash seeding, ...). Only Scripts/cross-build
// compiles this file, and only for musl targets; host builds use glibc's own.
//
// getrandom(2) first; camera kernels older than 3.17 lack it (ENOSYS), so fall
// back to /dev/urandom. If neither works the process aborts: returning
// predictable bytes would silently weaken nonces and keys.
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

static int fill_from_urandom(unsigned char *p, size_t len) {
    int fd;
    do {
        fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -1;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return 0;
}

void arc4random_buf(void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (fill_from_urandom(p, len) == 0) return;
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
}
