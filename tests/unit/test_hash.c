/*
 * test_hash: SHA-256 known-answer vectors (FIPS 180-2), incremental hashing,
 * file hashing against buffer hashing, the error path, hash_hex_valid.
 */
#include "check.h"
#include "hash.h"
#include "strbuf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	char hex[HASH_HEX_SIZE];

	hash_buf_hex("", 0, hex);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "sha256 of empty string");

	/* base64url of digests, both ways (values from Python's base64 module) */
	static const char *const pairs[][2] = {
		{ "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU" },
		{ "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		  "__________________________________________8" },
		{ "0000000000000000000000000000000000000000000000000000000000000000",
		  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" },
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char b64[HASH_B64_SIZE], back[HASH_HEX_SIZE];
		hash_hex_to_b64(pairs[i][0], b64);
		CHECK_STR(b64, pairs[i][1], "hex to base64url");
		CHECK(hash_b64_to_hex(pairs[i][1], strlen(pairs[i][1]), back) == 0 &&
			      !strcmp(back, pairs[i][0]),
		      "base64url back to hex");
	}
	char back[HASH_HEX_SIZE];
	CHECK(hash_b64_to_hex("__________________________________________9", 43, back) < 0,
	      "base64url with unused bits set is refused");
	CHECK(hash_b64_to_hex("AAAA", 4, back) < 0, "short base64url is refused");
	CHECK(hash_b64_to_hex("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ", 43, back) < 0,
	      "base64url with a space is refused");
	hash_str_hex("abc", hex);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "sha256 of abc");
	hash_str_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", hex);
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		  "sha256 of the 448-bit vector");

	/* one million 'a', fed in uneven pieces */
	char chunk[1000];
	memset(chunk, 'a', sizeof(chunk));
	struct hash_ctx h;
	hash_init(&h);
	size_t left = 1000000, step = 1;
	while (left) {
		size_t n = step < left ? step : left;
		if (n > sizeof(chunk))
			n = sizeof(chunk);
		hash_update(&h, chunk, n);
		left -= n;
		step = step * 7 % 997 + 1;
	}
	hash_final_hex(&h, hex);
	CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
		  "sha256 of one million 'a' (incremental)");

	/* incremental with an empty update equals one-shot */
	char one[HASH_HEX_SIZE];
	hash_init(&h);
	hash_update(&h, "ab", 2);
	hash_update(&h, "", 0);
	hash_update(&h, "c", 1);
	hash_final_hex(&h, one);
	CHECK_STR(one, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		  "incremental abc equals one-shot");

	/* hash_file_hex on a temp file (bigger than one read chunk) */
	char dir[] = "/tmp/study-test-hash-XXXXXX";
	CHECK(mkdtemp(dir) != NULL, "mkdtemp");
	struct strbuf path = STRBUF_INIT, err = STRBUF_INIT;
	strbuf_addf(&path, "%s/data", dir);
	size_t len = 600 * 1024 + 13;
	unsigned char *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 31 + (i >> 9));
	FILE *f = fopen(path.buf, "wb");
	CHECK(f && fwrite(buf, 1, len, f) == len, "write temp file");
	if (f)
		fclose(f);
	char want[HASH_HEX_SIZE], got[HASH_HEX_SIZE];
	uint64_t size = 0;
	hash_buf_hex(buf, len, want);
	CHECK(hash_file_hex(path.buf, got, &size, &err) == 0, "hash_file_hex succeeds");
	CHECK_STR(got, want, "hash_file_hex equals hash_buf_hex of the same bytes");
	CHECK(size == len, "hash_file_hex reports the size");
	CHECK(hash_file_hex(path.buf, got, NULL, &err) == 0, "hash_file_hex with NULL size");

	/* empty file */
	struct strbuf empty = STRBUF_INIT;
	strbuf_addf(&empty, "%s/empty", dir);
	f = fopen(empty.buf, "wb");
	if (f)
		fclose(f);
	CHECK(hash_file_hex(empty.buf, got, &size, &err) == 0 && size == 0, "empty file hashes");
	CHECK_STR(got, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		  "empty file digest");

	/* missing file */
	struct strbuf missing = STRBUF_INIT, want_msg = STRBUF_INIT;
	strbuf_addf(&missing, "%s/nope", dir);
	strbuf_reset(&err);
	CHECK(hash_file_hex(missing.buf, got, &size, &err) == -1, "missing file fails");
	strbuf_addf(&want_msg, "cannot read '%s': No such file or directory", missing.buf);
	CHECK_STR(err.buf, want_msg.buf, "missing file message");

	/* a directory cannot be read */
	strbuf_reset(&err);
	CHECK(hash_file_hex(dir, got, &size, &err) == -1, "directory fails");
	CHECK(strstr(err.buf, "cannot read '") == err.buf, "directory message");

	/* hash_hex_valid */
	CHECK(hash_hex_valid(want), "valid hex accepted");
	CHECK(!hash_hex_valid(""), "empty rejected");
	CHECK(!hash_hex_valid("abc"), "short rejected");
	char bad[HASH_HEX_SIZE + 1];
	memcpy(bad, want, HASH_HEX_SIZE);
	bad[10] = 'A';
	CHECK(!hash_hex_valid(bad), "uppercase rejected");
	bad[10] = 'g';
	CHECK(!hash_hex_valid(bad), "non-hex rejected");
	memcpy(bad, want, 64);
	bad[64] = '0';
	bad[65] = '\0';
	CHECK(!hash_hex_valid(bad), "65 digits rejected");

	unlink(path.buf);
	unlink(empty.buf);
	rmdir(dir);
	free(buf);
	strbuf_release(&path);
	strbuf_release(&empty);
	strbuf_release(&missing);
	strbuf_release(&want_msg);
	strbuf_release(&err);
	return check_done();
}
