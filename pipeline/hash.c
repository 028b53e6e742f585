/*
 * hash: SHA-256 through OpenSSL's SHA256_* functions, hex encoding, file
 * hashing. See hash.h.
 *
 * Not the EVP interface: its first use loads OpenSSL's configuration and
 * default provider (0.8 ms, every process), and it keeps the whole provider
 * machinery in the program, so libcrypto has to be a shared library (1 ms of
 * relocations at every start-up). SHA256_Update runs the same assembly as
 * EVP (SHA-NI where the CPU has it; `make bench` compares the throughput
 * with `openssl dgst`), and the Makefile links the few objects it needs
 * statically. OpenSSL 3 marks these functions deprecated, not removed.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "hash.h"
#include "xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

static void to_hex(const unsigned char *raw, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[2 * n] = '\0';
}

void hash_init(struct hash_ctx *h)
{
	SHA256_CTX *ctx = xmalloc(sizeof(*ctx));
	if (SHA256_Init(ctx) != 1) {
		fputs("study: fatal: cannot initialise SHA-256\n", stderr);
		exit(70);
	}
	h->md = ctx;
}

void hash_update(struct hash_ctx *h, const void *data, size_t len)
{
	if (len)
		SHA256_Update(h->md, data, len);
}

void hash_final_hex(struct hash_ctx *h, char hex[HASH_HEX_SIZE])
{
	unsigned char raw[SHA256_DIGEST_LENGTH];
	SHA256_Final(raw, h->md);
	free(h->md);
	h->md = NULL;
	to_hex(raw, HASH_RAW_SIZE, hex);
}

void hash_buf_hex(const void *data, size_t len, char hex[HASH_HEX_SIZE])
{
	/* not SHA256(): OpenSSL 3's one-shot goes through EVP */
	unsigned char raw[SHA256_DIGEST_LENGTH];
	SHA256_CTX ctx;
	SHA256_Init(&ctx);
	SHA256_Update(&ctx, data, len);
	SHA256_Final(raw, &ctx);
	to_hex(raw, HASH_RAW_SIZE, hex);
}

void hash_str_hex(const char *s, char hex[HASH_HEX_SIZE]) { hash_buf_hex(s, strlen(s), hex); }

enum { FILE_CHUNK = 1 << 20 };

int hash_fd_hex(int fd, const char *name, char hex[HASH_HEX_SIZE], uint64_t *size,
		struct strbuf *err)
{
	struct hash_ctx h;
	hash_init(&h);
	unsigned char *buf = xmalloc(FILE_CHUNK);
	uint64_t total = 0;
	int ret = 0, stream = 0;
	for (;;) {
		ssize_t n = stream ? read(fd, buf, FILE_CHUNK)
				   : pread(fd, buf, FILE_CHUNK, (off_t)total);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ESPIPE && !stream && !total) {
				stream = 1; /* a pipe: read it as it comes */
				continue;
			}
			strbuf_addf(err, "cannot read '%s': %s", name, strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		hash_update(&h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	free(buf);
	hash_final_hex(&h, hex);
	if (!ret && size)
		*size = total;
	return ret;
}

int hash_file_hex(const char *path, char hex[HASH_HEX_SIZE], uint64_t *size, struct strbuf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		strbuf_addf(err, "cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	int ret = hash_fd_hex(fd, path, hex, size, err);
	close(fd);
	return ret;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10;
}

void hash_hex_to_b64(const char *hex, char b64[HASH_B64_SIZE])
{
	unsigned char raw[HASH_RAW_SIZE], text[4 * ((HASH_RAW_SIZE + 2) / 3) + 1];
	for (size_t i = 0; i < HASH_RAW_SIZE; i++)
		raw[i] = (unsigned char)(hex_value(hex[2 * i]) << 4 | hex_value(hex[2 * i + 1]));
	EVP_EncodeBlock(text, raw, HASH_RAW_SIZE); /* standard alphabet, one '=' */
	for (size_t i = 0; i < HASH_B64_SIZE - 1; i++)
		b64[i] = text[i] == '+' ? '-' : text[i] == '/' ? '_' : (char)text[i];
	b64[HASH_B64_SIZE - 1] = '\0';
}

int hash_b64_to_hex(const char *b64, size_t len, char hex[HASH_HEX_SIZE])
{
	unsigned char text[HASH_B64_SIZE + 1], raw[HASH_RAW_SIZE + 2];
	if (len != HASH_B64_SIZE - 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = b64[i];
		if (c == '+' || c == '/' || c == '=')
			return -1; /* not ours: the standard alphabet */
		text[i] = (unsigned char)(c == '-' ? '+' : c == '_' ? '/' : c);
	}
	text[len] = '=';
	text[len + 1] = '\0';
	if (EVP_DecodeBlock(raw, text, (int)len + 1) != HASH_RAW_SIZE + 1)
		return -1; /* a bad character */
	to_hex(raw, HASH_RAW_SIZE, hex);
	/* one text per digest: the unused low bits of the last character are 0 */
	char again[HASH_B64_SIZE];
	hash_hex_to_b64(hex, again);
	return memcmp(again, b64, len) ? -1 : 0;
}

int hash_hex_valid(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}
