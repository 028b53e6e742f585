/*
 * report_md: the Markdown a report stage writes, as HTML for `study report`
 * (see report_html.h for the subset). Line based: a block is a heading, a
 * table (consecutive lines starting with '|', the second the |---| rule), a
 * list (consecutive "- " lines), or a paragraph (other consecutive lines).
 * Nothing is passed through unescaped: raw HTML in the Markdown shows as
 * text.
 */
#include "report_html.h"
#include "html.h"

#include <string.h>

struct md {
	struct strbuf *out;
	md_image_fn image;
	void *ctx;
};

static const char *find(const char *s, const char *end, const char *what)
{
	size_t n = strlen(what);
	for (; s + n <= end; s++)
		if (!memcmp(s, what, n))
			return s;
	return NULL;
}

static void image(struct md *m, const char *alt, size_t alt_n, const char *target, size_t n)
{
	char name[256];
	const struct report_file *f = NULL;
	if (n < sizeof(name)) {
		memcpy(name, target, n);
		name[n] = '\0';
		f = m->image ? m->image(m->ctx, name) : NULL;
	}
	if (!f) {
		strbuf_addstr(m->out, "<span class=\"missing\">[");
		html_textn(m->out, alt, alt_n);
		strbuf_addstr(m->out, "]</span>");
		return;
	}
	size_t len = strlen(f->name);
	int svg = len > 4 && !strcmp(f->name + len - 4, ".svg");
	strbuf_addf(m->out, "<img class=\"chart\" alt=\"");
	html_textn(m->out, alt, alt_n);
	strbuf_addf(m->out, "\" src=\"data:%s;base64,", svg ? "image/svg+xml" : "application/octet-stream");
	html_base64(m->out, f->data, f->len);
	strbuf_addstr(m->out, "\">");
}

/* Inline text: `code`, **bold**, *italic*, ![alt](file); the rest escaped. */
static void inline_text(struct md *m, const char *s, const char *end)
{
	const char *plain = s;
	while (s < end) {
		const char *close = NULL;
		const char *tag = NULL;
		size_t open = 0;
		if (*s == '`') {
			close = find(s + 1, end, "`");
			tag = "code";
			open = 1;
		} else if (*s == '*' && s + 1 < end && s[1] == '*') {
			close = find(s + 2, end, "**");
			tag = "strong";
			open = 2;
		} else if (*s == '*' && s + 1 < end && s[1] != ' ') {
			close = find(s + 1, end, "*");
			tag = "em";
			open = 1;
		} else if (*s == '!' && s + 1 < end && s[1] == '[') {
			const char *rb = find(s + 2, end, "](");
			const char *rp = rb ? find(rb + 2, end, ")") : NULL;
			if (rp) {
				html_textn(m->out, plain, (size_t)(s - plain));
				image(m, s + 2, (size_t)(rb - s - 2), rb + 2, (size_t)(rp - rb - 2));
				s = plain = rp + 1;
				continue;
			}
		}
		if (!close || close == s + open) {
			s++;
			continue;
		}
		html_textn(m->out, plain, (size_t)(s - plain));
		strbuf_addf(m->out, "<%s>", tag);
		if (!strcmp(tag, "code"))
			html_textn(m->out, s + open, (size_t)(close - s - open));
		else
			inline_text(m, s + open, close);
		strbuf_addf(m->out, "</%s>", tag);
		s = plain = close + open;
	}
	html_textn(m->out, plain, (size_t)(end - plain));
}

/* The cells of a table line "| a | b |" (trimmed), as inline text. */
static void table_row(struct md *m, const char *s, const char *end, const char *cell)
{
	strbuf_addstr(m->out, "<tr>");
	if (s < end && *s == '|')
		s++;
	while (s < end) {
		const char *bar = s;
		while (bar < end && !(*bar == '|' && (bar == s || bar[-1] != '\\')))
			bar++;
		const char *a = s, *b = bar;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if (bar == end && a == b)
			break; /* after the last '|' */
		strbuf_addf(m->out, "<%s>", cell);
		inline_text(m, a, b);
		strbuf_addf(m->out, "</%s>", cell);
		s = bar < end ? bar + 1 : end;
	}
	strbuf_addstr(m->out, "</tr>\n");
}

static int is_rule(const char *s, const char *end)
{
	for (; s < end; s++)
		if (!strchr("|-: ", *s))
			return 0;
	return 1;
}

void report_md_html(struct strbuf *out, const char *text, size_t len, md_image_fn img, void *ctx)
{
	struct md m = { out, img, ctx };
	const char *p = text, *end = text + len;
	enum { NONE, PARA, LIST, TABLE };
	int block = NONE;
	size_t table_line = 0;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = eol;
		if (q > p && q[-1] == '\r')
			q--;
		int blank = 1;
		for (const char *c = p; c < q; c++)
			if (*c != ' ' && *c != '\t')
				blank = 0;
		int heading = 0;
		while (p + heading < q && p[heading] == '#')
			heading++;
		int is_heading = heading && heading <= 6 && p + heading < q && p[heading] == ' ';
		int is_table = q > p && *p == '|';
		int is_item = q - p >= 2 && (p[0] == '-' || p[0] == '*') && p[1] == ' ';
		int want = blank || is_heading ? NONE : is_table ? TABLE : is_item ? LIST : PARA;
		if (block != want || is_heading) {
			if (block == PARA)
				strbuf_addstr(out, "</p>\n");
			else if (block == LIST)
				strbuf_addstr(out, "</ul>\n");
			else if (block == TABLE)
				strbuf_addstr(out, "</tbody></table></div>\n");
			block = NONE;
		}
		if (is_heading) {
			int h = heading + 2 > 6 ? 6 : heading + 2;
			strbuf_addf(out, "<h%d>", h);
			inline_text(&m, p + heading + 1, q);
			strbuf_addf(out, "</h%d>\n", h);
		} else if (want == TABLE) {
			if (block != TABLE) {
				strbuf_addstr(out, "<div class=\"scroll\"><table class=\"md\"><thead>");
				table_line = 0;
				block = TABLE;
			}
			if (table_line == 0) {
				table_row(&m, p, q, "th");
				strbuf_addstr(out, "</thead><tbody>\n");
			} else if (!(table_line == 1 && is_rule(p, q))) {
				table_row(&m, p, q, "td");
			}
			table_line++;
		} else if (want == LIST) {
			if (block != LIST)
				strbuf_addstr(out, "<ul>\n");
			block = LIST;
			strbuf_addstr(out, "<li>");
			inline_text(&m, p + 2, q);
			strbuf_addstr(out, "</li>\n");
		} else if (want == PARA) {
			if (block != PARA)
				strbuf_addstr(out, "<p>");
			else
				strbuf_addch(out, '\n');
			block = PARA;
			inline_text(&m, p, q);
		}
		p = eol < end ? eol + 1 : end;
	}
	if (block == PARA)
		strbuf_addstr(out, "</p>\n");
	else if (block == LIST)
		strbuf_addstr(out, "</ul>\n");
	else if (block == TABLE)
		strbuf_addstr(out, "</tbody></table></div>\n");
}
