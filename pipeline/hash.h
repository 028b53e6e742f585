/*
 * hash: SHA-256 (OpenSSL libcrypto) of buffers, files and streams, and
 * hex encoding. Digests travel through the program as 64-char lowercase hex
 * strings in char[HASH_HEX_SIZE] buffers.
 */
#ifndef STUDY_HASH_H
#define STUDY_HASH_H

#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

#define HASH_RAW_SIZE 32
#define HASH_HEX_SIZE 65 /* 64 hex digits + NUL */

/* Incremental hashing. hash_init never fails (dies on OOM). */
struct hash_ctx {
	void *md; /* SHA256_CTX */
};
void hash_init(struct hash_ctx *h);
void hash_update(struct hash_ctx *h, const void *data, size_t len);
/* Finishes and releases the context. */
void hash_final_hex(struct hash_ctx *h, char hex[HASH_HEX_SIZE]);

void hash_buf_hex(const void *data, size_t len, char hex[HASH_HEX_SIZE]);
void hash_str_hex(const char *s, char hex[HASH_HEX_SIZE]);

/* Hash a regular file's content. Returns 0, or -1 with "cannot read 'path': why" in err.
 * *size (if non-NULL) receives the byte count. */
int hash_file_hex(const char *path, char hex[HASH_HEX_SIZE], uint64_t *size, struct strbuf *err);

/* Hash the whole content of the open file `fd`, from offset 0 to its end
 * (pread, 1 MiB at a time: big files at full speed; the offset is left
 * alone; a pipe is read as it comes). Returns 0, or -1 with "cannot read 'name': why" in err. */
int hash_fd_hex(int fd, const char *name, char hex[HASH_HEX_SIZE], uint64_t *size,
		struct strbuf *err);

/* 1 when s is exactly 64 lowercase hex digits. */
int hash_hex_valid(const char *s);

/* A digest in unpadded base64url (RFC 4648 section 5): 43 characters, for
 * places where 64 hex digits are too long (a symbolic link's target that
 * must fit in the inode). hash_b64_to_hex accepts exactly the text
 * hash_hex_to_b64 writes for some digest, else returns -1. */
#define HASH_B64_SIZE 44 /* 43 characters + NUL */
void hash_hex_to_b64(const char *hex, char b64[HASH_B64_SIZE]);
int hash_b64_to_hex(const char *b64, size_t len, char hex[HASH_HEX_SIZE]);

#endif
