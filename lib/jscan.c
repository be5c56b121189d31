/* JSON scanning in place (see jscan.h). */
#include "jscan.h"

#include <string.h>

void jscan_init(struct jscan *s, const char *text, size_t len)
{
    s->p = text;
    s->end = text + len;
    s->depth = 0;
    s->bad = false;
}

static void ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool fail(struct jscan *s)
{
    s->bad = true;
    return false;
}

char jscan_peek(struct jscan *s)
{
    ws(s);
    return s->p < s->end ? *s->p : '\0';
}

bool jscan_enter(struct jscan *s, char open)
{
    if (jscan_peek(s) != open)
        return false;
    if (++s->depth > JSCAN_DEPTH)
        return fail(s);
    s->p++;
    return true;
}

bool jscan_next(struct jscan *s, char close, bool *first, const char **key, size_t *klen)
{
    char c = jscan_peek(s);

    if (s->bad)
        return false;
    if (c == close && *first) {
        s->p++;
        s->depth--;
        return false;
    }
    if (!*first) {
        if (c == close) {
            s->p++;
            s->depth--;
            return false;
        }
        if (c != ',')
            return fail(s);
        s->p++;
    }
    *first = false;
    if (close == '}') {
        if (!jscan_string(s, key, klen) || jscan_peek(s) != ':')
            return fail(s);
        s->p++;
    } else if (key) {
        *key = NULL;
        *klen = 0;
    }
    return true;
}

static int hex4(const char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The length of the UTF-8 sequence at p (0: invalid), as RFC 3629 allows it: no overlong forms,
 * no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = p[0];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0xC2 || c > 0xF4 || (size_t)(end - p) < n)
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

bool jscan_string(struct jscan *s, const char **raw, size_t *len)
{
    const unsigned char *p, *end = (const unsigned char *)s->end;

    if (jscan_peek(s) != '"')
        return fail(s);
    p = (const unsigned char *)++s->p;
    while (p < end && *p != '"') {
        if (*p < 0x20)
            return fail(s);
        if (*p >= 0x80) {
            size_t n = utf8_len(p, end);
            if (!n)
                return fail(s);
            p += n;
        } else if (*p != '\\') {
            p++;
        } else if (end - p >= 2 && strchr("\"\\/bfnrt", p[1]) && p[1]) {
            p += 2;
        } else if (end - p >= 6 && p[1] == 'u') {
            int u = hex4((const char *)p + 2);
            if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF)) /* jansson refuses \u0000 too */
                return fail(s);
            p += 6;
            if (u >= 0xD800 && u <= 0xDBFF) { /* a high surrogate: its low half follows */
                int v =
                    end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4((const char *)p + 2) : -1;
                if (v < 0xDC00 || v > 0xDFFF)
                    return fail(s);
                p += 6;
            }
        } else {
            return fail(s);
        }
    }
    if (p >= end)
        return fail(s);
    *raw = s->p;
    *len = (size_t)((const char *)p - s->p);
    s->p = (const char *)p + 1;
    return true;
}

bool jscan_number(struct jscan *s, uint64_t *v, bool *is_uint)
{
    const char *p;
    uint64_t n = 0;
    size_t digits = 0;
    bool neg = false, frac = false;

    if (jscan_peek(s) == '-') {
        neg = true;
        s->p++;
    }
    p = s->p;
    if (p >= s->end || *p < '0' || *p > '9' ||
        (*p == '0' && p + 1 < s->end && p[1] >= '0' && p[1] <= '9'))
        return fail(s);
    for (; p < s->end && *p >= '0' && *p <= '9'; p++, digits++)
        if (digits < 16)
            n = n * 10 + (uint64_t)(*p - '0');
    if (p < s->end && *p == '.') {
        frac = true;
        if (++p >= s->end || *p < '0' || *p > '9')
            return fail(s);
        for (; p < s->end && *p >= '0' && *p <= '9'; p++)
            digits++;
    }
    /* what a parser may refuse (an integer beyond 64 bits, a real beyond a double) or read
     * otherwise is left to it: no exponents, at most 18 integer digits, 300 in all */
    if ((p < s->end && (*p == 'e' || *p == 'E')) || (!frac && digits > 18) || digits > 300)
        return fail(s);
    s->p = p;
    *is_uint = !neg && !frac && digits <= 15;
    *v = *is_uint ? n : 0;
    return true;
}

bool jscan_literal(struct jscan *s, char *lit)
{
    static const char *const words[] = {"true", "false", "null"};
    char c = jscan_peek(s);

    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if (c == words[i][0] && (size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0) {
            s->p += n;
            *lit = c;
            return true;
        }
    }
    return fail(s);
}

bool jscan_skip(struct jscan *s)
{
    const char *k;
    size_t kl;
    uint64_t v;
    bool u, first = true;
    char c = jscan_peek(s), lit;

    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        if (!jscan_enter(s, c))
            return false;
        while (jscan_next(s, close, &first, &k, &kl))
            if (!jscan_skip(s))
                return false;
        return !s->bad;
    }
    if (c == '"')
        return jscan_string(s, &k, &kl);
    if (c == '-' || (c >= '0' && c <= '9'))
        return jscan_number(s, &v, &u);
    return jscan_literal(s, &lit);
}

bool jscan_skip_member(struct jscan *s, const char *key, size_t klen)
{
    return !memchr(key, '\\', klen) && jscan_skip(s);
}

bool jscan_done(struct jscan *s)
{
    ws(s);
    return !s->bad && s->p == s->end;
}

bool jscan_is(const char *raw, size_t len, const char *lit)
{
    return len == strlen(lit) && memcmp(raw, lit, len) == 0;
}
