// zlib for camagent-firmware (gzip streams of tar.gz/ipk, CRC32 of U-Boot
// headers). Debian: zlib1g-dev.
#include <zlib.h>
