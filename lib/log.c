/*
 * logfmt writer. Each event is formatted into a stack buffer and written with one write(2),
 * so lines from several threads never interleave. JSON mode converts the logfmt pairs.
 */
#include "lib/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static bool json_mode;
static char svc_name[32] = "sb";
static int svc_pid; /* read once: every line carries it */
static const char *const level_names[LOG_LEVEL_COUNT] = {"debug", "info", "warn", "error"};

void log_init(const char *svc)
{
    const char *lvl = getenv("LOG_LEVEL");
    const char *fmt = getenv("LOG_FORMAT");

    (void)snprintf(svc_name, sizeof(svc_name), "%s", svc);
    svc_pid = (int)getpid();
    for (int i = 0; lvl && i < LOG_LEVEL_COUNT; i++)
        if (strcmp(lvl, level_names[i]) == 0)
            min_level = (enum log_level)i;
    json_mode = fmt && strcmp(fmt, "json") == 0;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

/* A loop's lines held until it has sent what its turn produced (log_hold()). */
#define HELD_MAX (32u * 1024)
struct held {
    size_t len;
    char buf[HELD_MAX];
};
static _Thread_local struct held *held;

void log_flush(void)
{
    if (held && held->len) {
        (void)!write(STDERR_FILENO, held->buf, held->len);
        held->len = 0;
    }
}

void log_hold(bool on)
{
    if (on && !held) {
        held = calloc(1, sizeof(*held));
    } else if (!on) {
        log_flush();
        free(held);
        held = NULL;
    }
}

/* Write a line, or hold it: a warning or an error goes at once, after what is held. */
static void emit_line(enum log_level level, const char *line, size_t len)
{
    if (!held) {
        (void)!write(STDERR_FILENO, line, len);
        return;
    }
    if (level >= LOG_LEVEL_WARN || held->len + len > sizeof(held->buf)) {
        struct iovec v[2] = {{held->buf, held->len}, {(void *)(uintptr_t)line, len}};
        (void)!writev(STDERR_FILENO, v, 2);
        held->len = 0;
        return;
    }
    memcpy(held->buf + held->len, line, len);
    held->len += len;
}

static size_t put_ts(char *out, size_t n)
{
    struct timeval tv;
    struct tm tm;

    (void)gettimeofday(&tv, NULL);
    (void)gmtime_r(&tv.tv_sec, &tm);
    return (size_t)snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                            (long)(tv.tv_usec / 1000));
}

/* Append `s` as a JSON string body (without quotes) to out[*pos..lim): stops before an escape
 * that would not fit. */
static void json_escape(char *out, size_t lim, size_t *pos, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
        if (*pos + need > lim)
            return;
        if (need == 2) {
            out[(*pos)++] = '\\';
            out[(*pos)++] = (char)c;
        } else if (need == 6) {
            memcpy(out + *pos, "\\u00", 4);
            out[*pos + 4] = hex[c >> 4];
            out[*pos + 5] = hex[c & 15];
            *pos += 6;
        } else {
            out[(*pos)++] = (char)c;
        }
    }
}

/* Convert a logfmt line (k=v k="v w") to one JSON object in out[n] (n > 16): every write stays
 * below lim, which leaves room for the closing characters. */
static size_t to_json(const char *line, size_t len, char *out, size_t n)
{
    size_t pos = 0, i = 0, lim = n - 8;
    bool first = true;

    out[pos++] = '{';
    while (i < len && pos + 8 < lim) {
        while (i < len && line[i] == ' ')
            i++;
        size_t ks = i;
        while (i < len && line[i] != '=' && line[i] != ' ')
            i++;
        size_t kl = i - ks;
        if (kl == 0 || i >= len || line[i] != '=') {
            while (i < len && line[i] != ' ')
                i++;
            continue;
        }
        i++;
        size_t vs = i, vl;
        if (i < len && line[i] == '"') {
            vs = ++i;
            while (i < len && !(line[i] == '"' && line[i - 1] != '\\'))
                i++;
            vl = i - vs;
            if (i < len)
                i++;
        } else {
            while (i < len && line[i] != ' ')
                i++;
            vl = i - vs;
        }
        if (!first)
            out[pos++] = ',';
        first = false;
        out[pos++] = '"';
        json_escape(out, lim - 4, &pos, line + ks, kl);
        out[pos++] = '"';
        out[pos++] = ':';
        out[pos++] = '"';
        json_escape(out, lim, &pos, line + vs, vl);
        out[pos++] = '"';
    }
    out[pos++] = '}';
    out[pos++] = '\n';
    return pos;
}

const char *log_q(const char *s, char *out, size_t n)
{
    size_t w = 0;

    if (n == 0)
        return "";
    for (; s && *s && w + 3 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[w++] = '\\';
            out[w++] = (char)c;
        } else {
            out[w++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
        }
    }
    out[w] = '\0';
    return out;
}

/* Copy in[len] to out from *pos, control characters written as \n, \r, \t or '?': an event is
 * always exactly one line, whatever a value holds. */
static void put_one_line(char *out, size_t n, size_t *pos, const char *in, size_t len)
{
    for (size_t i = 0; i < len && *pos + 2 < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '\n' || c == '\r' || c == '\t') {
            out[(*pos)++] = '\\';
            out[(*pos)++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else {
            out[(*pos)++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
        }
    }
}

void log_emit(enum log_level level, const char *event, const char *fields, ...)
{
    char line[4096];
    char raw[4096];
    char js[8192];
    size_t pos = 0;
    int w;
    va_list ap;

    pos += (size_t)snprintf(line, sizeof(line), "ts=");
    pos += put_ts(line + pos, sizeof(line) - pos);
    w = snprintf(line + pos, sizeof(line) - pos,
                 " level=%s svc=%s pid=%d event=", level_names[level], svc_name,
                 svc_pid ? svc_pid : (int)getpid());
    pos += w > 0 ? (size_t)w : 0;
    put_one_line(line, sizeof(line) - 2, &pos, event, strlen(event)); /* room for ' ', '\n' */
    line[pos++] = ' ';
    va_start(ap, fields);
    w = vsnprintf(raw, sizeof(raw), fields, ap);
    va_end(ap);
    if (w > 0)
        put_one_line(line, sizeof(line) - 2, &pos, raw,
                     (size_t)w < sizeof(raw) ? (size_t)w : sizeof(raw) - 1);
    while (pos > 0 && line[pos - 1] == ' ')
        pos--;
    line[pos++] = '\n';
    if (json_mode) {
        size_t jl = to_json(line, pos - 1, js, sizeof(js));
        emit_line(level, js, jl);
        return;
    }
    emit_line(level, line, pos);
}
