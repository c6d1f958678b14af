#include "mpi_hash.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "mlpt_err.h"

int sched_mpi_hash_file(const char *path, unsigned char out[SCHED_WIRE_HASH], char *msg,
                        size_t msg_len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(msg, msg_len, "cannot open: %s", strerror(errno));
        return MLPT_EIO;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    static _Thread_local unsigned char buf[1 << 16];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    unsigned len = 0;
    if (ok && ferror(f)) {
        snprintf(msg, msg_len, "cannot read: %s", strerror(errno));
        ok = 0;
    } else if (ok && (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != SCHED_WIRE_HASH)) {
        snprintf(msg, msg_len, "cannot hash");
        ok = 0;
    } else if (!ok) {
        snprintf(msg, msg_len, "cannot hash");
    }
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return ok ? 0 : MLPT_EIO;
}

void sched_mpi_hash_hex(const unsigned char *hash, char out[17]) {
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", hash[i]);
}
