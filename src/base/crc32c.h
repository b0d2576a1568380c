/* CRC32C (Castagnoli, the iSCSI / ext4 / RocksDB checksum): the checksum of every frame, index
 * and journal entry the store writes. On x86-64 CPUs with SSE4.2 it runs on the crc32
 * instruction; elsewhere a table does the same sums. */
#ifndef KN_BASE_CRC32C_H
#define KN_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) over n bytes of p; returns the new CRC. kn_crc32c(kn_crc32c(0, a),
 * b) equals the CRC of a followed by b. */
uint32_t kn_crc32c(uint32_t crc, const void *p, size_t n);
/* The same with the table only, whatever the CPU (so tests can compare the two). */
uint32_t kn_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
