/*
 * html: escaping, ids and base64 for the HTML report (see html.h).
 */
#include "html.h"

#include <string.h>

void html_textn(struct strbuf *sb, const char *s, size_t n)
{
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		const char *ref;
		switch (s[i]) {
		case '&': ref = "&amp;"; break;
		case '<': ref = "&lt;"; break;
		case '>': ref = "&gt;"; break;
		case '"': ref = "&quot;"; break;
		case '\'': ref = "&#39;"; break;
		default: continue;
		}
		strbuf_add(sb, s + start, i - start);
		strbuf_addstr(sb, ref);
		start = i + 1;
	}
	strbuf_add(sb, s + start, n - start);
}

void html_text(struct strbuf *sb, const char *s)
{
	html_textn(sb, s, strlen(s));
}

void html_id(struct strbuf *sb, const char *prefix, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	strbuf_addstr(sb, prefix);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '/' || c == '+' || c == '-') {
			strbuf_addch(sb, c);
		} else {
			strbuf_addch(sb, '~');
			strbuf_addch(sb, hex[c >> 4]);
			strbuf_addch(sb, hex[c & 15]);
		}
	}
}

void html_base64(struct strbuf *sb, const void *data, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	strbuf_grow(sb, (len + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		char out[4] = { tab[v >> 18], tab[(v >> 12) & 63], tab[(v >> 6) & 63], tab[v & 63] };
		strbuf_add(sb, out, 4);
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
		char out[4] = { tab[v >> 18], tab[(v >> 12) & 63],
				i + 1 < len ? tab[(v >> 6) & 63] : '=', '=' };
		strbuf_add(sb, out, 4);
	}
}
